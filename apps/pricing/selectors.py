"""Price resolution: the one entry point that says what a company pays, and why."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import Company
from apps.catalog.models import Product
from apps.core.money import quantize_price
from apps.pricing.models import CompanyPricing, ContractPrice, PriceTier, TierPrice

HUNDRED = Decimal("100")


class Source:
    CONTRACT = "contract"
    TIER_BREAK = "tier break"
    TIER_DEFAULT = "tier default"
    LIST = "list"


@dataclass(frozen=True)
class PriceBreak:
    min_quantity: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class PriceQuote:
    """What one unit costs this company at this quantity on this date, where the price came from, the
    price ladder that applies, and the next break up (“order 50 for $8.75 each”)."""

    product_id: int
    quantity: Decimal
    unit_price: Decimal
    currency: str
    source: str
    list_price: Decimal
    breaks: list[PriceBreak] = field(default_factory=list)
    next_break: PriceBreak | None = None


@dataclass(frozen=True)
class _Rows:
    tier: PriceTier | None
    contract: dict[int, list[ContractPrice]]
    tier_rows: dict[int, list[TierPrice]]


def _valid_on(on_date: date) -> Q:
    return Q(valid_from__lte=on_date) & (Q(valid_to__isnull=True) | Q(valid_to__gte=on_date))


def company_tier(company: Company) -> PriceTier | None:
    pricing = CompanyPricing.objects.select_related("tier").filter(company=company).first()
    return pricing.tier if pricing else None


def _load(company: Company, product_ids: Sequence[int], on_date: date, tier: PriceTier | None) -> _Rows:
    contract: dict[int, list[ContractPrice]] = defaultdict(list)
    for row in ContractPrice.objects.filter(
        _valid_on(on_date), company=company, product_id__in=product_ids
    ).order_by():
        contract[row.product_id].append(row)
    tier_rows: dict[int, list[TierPrice]] = defaultdict(list)
    if tier is not None:
        for tier_row in TierPrice.objects.filter(
            _valid_on(on_date), tier=tier, product_id__in=product_ids
        ).order_by():
            tier_rows[tier_row.product_id].append(tier_row)
    return _Rows(tier=tier, contract=contract, tier_rows=tier_rows)


def _ladder(candidates: list[tuple[Decimal, Decimal, str]]) -> list[tuple[Decimal, Decimal, str]]:
    """Lowest applicable price at each break: a larger quantity never costs more per unit."""
    ladder: list[tuple[Decimal, Decimal, str]] = []
    best: Decimal | None = None
    for min_quantity, price, source in sorted(candidates, key=lambda c: (c[0], c[1])):
        if best is None or price < best:
            best = price
            if ladder and ladder[-1][0] == min_quantity:
                ladder[-1] = (min_quantity, price, source)
            else:
                ladder.append((min_quantity, price, source))
    return ladder


def tier_default_price(list_price: Decimal, tier: PriceTier | None) -> Decimal:
    if tier is None:
        return quantize_price(list_price)
    return quantize_price(list_price * (HUNDRED - tier.default_discount_percent) / HUNDRED)


def _quote(product: Product, quantity: Decimal, rows: _Rows) -> PriceQuote:
    contract_rows = rows.contract.get(product.pk, [])
    applicable_contract = [row for row in contract_rows if row.min_quantity <= quantity]
    if applicable_contract:
        ladder = _ladder([(row.min_quantity, row.unit_price, Source.CONTRACT) for row in contract_rows])
    else:
        default_source = Source.TIER_DEFAULT if rows.tier is not None else Source.LIST
        candidates = [(Decimal("0"), tier_default_price(product.list_price, rows.tier), default_source)]
        candidates += [
            (row.min_quantity, row.unit_price, Source.TIER_BREAK)
            for row in rows.tier_rows.get(product.pk, [])
        ]
        ladder = _ladder(candidates)
    current = [step for step in ladder if step[0] <= quantity][-1]
    upcoming = next((step for step in ladder if step[0] > quantity), None)
    return PriceQuote(
        product_id=product.pk,
        quantity=quantity,
        unit_price=current[1],
        currency=product.currency,
        source=current[2],
        list_price=product.list_price,
        breaks=[PriceBreak(max(step[0], Decimal("1")), step[1]) for step in ladder],
        next_break=PriceBreak(upcoming[0], upcoming[1]) if upcoming else None,
    )


def price_resolve_many(
    *,
    account: Company,
    products: Sequence[Product],
    quantity: Decimal | dict[int, Decimal] = Decimal("1"),
    on_date: date | None = None,
) -> dict[int, PriceQuote]:
    """Quotes for a page of products in three queries, whatever the page size.

    ``quantity`` is one quantity for all, or a quantity per product id.
    """
    on_date = on_date or timezone.localdate()
    rows = _load(account, [product.pk for product in products], on_date, company_tier(account))
    quotes = {}
    for product in products:
        wanted = quantity.get(product.pk, Decimal("1")) if isinstance(quantity, dict) else quantity
        quotes[product.pk] = _quote(product, Decimal(wanted), rows)
    return quotes


def price_resolve(
    *, account: Company, product: Product, quantity: Decimal = Decimal("1"), on_date: date | None = None
) -> PriceQuote:
    return price_resolve_many(account=account, products=[product], quantity=quantity, on_date=on_date)[
        product.pk
    ]


def tier_price_list(*, tier: PriceTier, search: str = "") -> QuerySet[TierPrice]:
    rows = TierPrice.objects.filter(tier=tier).select_related("product")
    if search:
        rows = rows.filter(Q(product__sku__icontains=search) | Q(product__name__icontains=search))
    return rows.order_by("product__sku", "min_quantity", "valid_from")


def contract_price_list(*, company: Company, search: str = "") -> QuerySet[ContractPrice]:
    rows = ContractPrice.objects.filter(company=company).select_related("product")
    if search:
        rows = rows.filter(Q(product__sku__icontains=search) | Q(product__name__icontains=search))
    return rows.order_by("product__sku", "min_quantity", "valid_from")
