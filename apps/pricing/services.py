"""Writes to prices: validated, audited, and followed by a push of the affected ERP price lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from apps.accounts.models import Company
from apps.catalog.models import Product
from apps.core.money import PRICE_DECIMAL_PLACES, QUANTITY_DECIMAL_PLACES
from apps.pricing import erp
from apps.pricing.models import (
    CompanyPricing,
    ContractPrice,
    EffectivePrice,
    PriceChange,
    PriceTier,
    TierPrice,
)


def _fmt(row: EffectivePrice | None) -> str:
    if row is None:
        return ""
    window = (
        f"{row.valid_from:%Y-%m-%d} to {row.valid_to:%Y-%m-%d}"
        if row.valid_to
        else f"from {row.valid_from:%Y-%m-%d}"
    )
    return f"{row.unit_price} {row.currency} ≥{row.min_quantity.normalize():f} {window}"


def _check_row(row: EffectivePrice, siblings: Any) -> None:
    """Field rules every price obeys, with messages for the form field concerned."""
    errors: dict[str, str] = {}
    if row.unit_price is None or row.unit_price < 0:
        errors["unit_price"] = "A price cannot be negative."
    elif row.unit_price.as_tuple().exponent < -PRICE_DECIMAL_PLACES:  # type: ignore[operator]
        errors["unit_price"] = f"Use at most {PRICE_DECIMAL_PLACES} decimals."
    if row.min_quantity is None or row.min_quantity <= 0:
        errors["min_quantity"] = "The minimum quantity must be more than zero."
    if row.valid_to is not None and row.valid_to < row.valid_from:
        errors["valid_to"] = "The end date is before the start date."
    if errors:
        raise ValidationError(errors)
    # Stored as the database will hold them, so what is shown after a save is what was saved.
    row.unit_price = row.unit_price.quantize(Decimal(1).scaleb(-PRICE_DECIMAL_PLACES))
    row.min_quantity = row.min_quantity.quantize(Decimal(1).scaleb(-QUANTITY_DECIMAL_PLACES))
    overlapping = siblings.filter(product=row.product, min_quantity=row.min_quantity).exclude(pk=row.pk)
    overlapping = overlapping.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=row.valid_from))
    if row.valid_to is not None:
        overlapping = overlapping.filter(valid_from__lte=row.valid_to)
    clash = overlapping.first()
    if clash is not None:
        raise ValidationError(
            {"valid_from": f"Overlaps an existing price for this SKU and quantity ({_fmt(clash)})."}
        )


def companies_for_tier(tier: PriceTier) -> list[Company]:
    return list(Company.objects.filter(pricing__tier=tier))


def price_lists_enqueue(companies: list[Company]) -> None:
    """Queue a push of each company's ERP price list; a push still waiting is reused, not doubled."""
    erp.price_lists_enqueue(companies)


def _audit(**fields: Any) -> PriceChange:
    return PriceChange.objects.create(**fields)


@dataclass(frozen=True)
class PriceInput:
    """What a person enters for one price: from which quantity, how much, from when to when."""

    product: Product
    min_quantity: Decimal
    unit_price: Decimal
    valid_from: date
    valid_to: date | None


PriceRow = TypeVar("PriceRow", TierPrice, ContractPrice)


def _write_price(row: PriceRow, price: PriceInput, siblings: Any) -> str:
    """Validate and save ``row`` with ``price``; returns its previous value for the audit log."""
    Product.objects.select_for_update().filter(
        pk=price.product.pk
    ).first()  # serialise overlap checks per SKU
    old = _fmt(row) if row.pk else ""
    row.product, row.min_quantity, row.unit_price = price.product, price.min_quantity, price.unit_price
    row.valid_from, row.valid_to, row.currency = price.valid_from, price.valid_to, price.product.currency
    _check_row(row, siblings)
    row.save()
    return old


@transaction.atomic
def tier_price_save(
    *,
    actor: User,
    tier: PriceTier,
    row: TierPrice | None = None,
    upload: Any = None,
    push: bool = True,
    **price: Any,
) -> TierPrice:
    """Create or change a tier price (``price``: the fields of PriceInput)."""
    entered = PriceInput(**price)
    row = row or TierPrice(tier=tier)
    if row.tier_id != tier.pk:
        raise ValidationError("That price belongs to another tier.")
    old = _write_price(row, entered, TierPrice.objects.filter(tier=tier))
    _audit(
        kind=PriceChange.Kind.TIER_PRICE,
        actor=actor,
        tier=tier,
        product=entered.product,
        upload=upload,
        description=f"{tier.name} price of {entered.product.sku}",
        old_value=old,
        new_value=_fmt(row),
    )
    if push:
        price_lists_enqueue(companies_for_tier(tier))
    return row


@transaction.atomic
def contract_price_save(
    *,
    actor: User,
    company: Company,
    row: ContractPrice | None = None,
    upload: Any = None,
    push: bool = True,
    **price: Any,
) -> ContractPrice:
    """Create or change a contract price (``price``: the fields of PriceInput)."""
    entered = PriceInput(**price)
    row = row or ContractPrice(company=company)
    if row.company_id != company.pk:
        raise ValidationError("That price belongs to another company.")
    old = _write_price(row, entered, ContractPrice.objects.filter(company=company))
    _audit(
        kind=PriceChange.Kind.CONTRACT_PRICE,
        actor=actor,
        company=company,
        product=entered.product,
        upload=upload,
        description=f"Contract price of {entered.product.sku} for {company.name}",
        old_value=old,
        new_value=_fmt(row),
    )
    if push:
        price_lists_enqueue([company])
    return row


@transaction.atomic
def price_delete(*, actor: User, row: TierPrice | ContractPrice) -> None:
    scope: dict[str, Any]
    if isinstance(row, TierPrice):
        kind, scope, companies = PriceChange.Kind.TIER_PRICE, {"tier": row.tier}, companies_for_tier(row.tier)
        description = f"{row.tier.name} price of {row.product.sku} removed"
    else:
        kind, scope, companies = PriceChange.Kind.CONTRACT_PRICE, {"company": row.company}, [row.company]
        description = f"Contract price of {row.product.sku} for {row.company.name} removed"
    _audit(kind=kind, actor=actor, product=row.product, description=description, old_value=_fmt(row), **scope)
    row.delete()
    price_lists_enqueue(companies)


@transaction.atomic
def company_tier_assign(*, actor: User, company: Company, tier: PriceTier | None) -> CompanyPricing:
    pricing, _ = CompanyPricing.objects.select_for_update().get_or_create(company=company)
    if pricing.tier_id == (tier.pk if tier else None):
        return pricing
    old = pricing.tier.name if pricing.tier else "list price"
    pricing.tier = tier
    pricing.save(update_fields=["tier", "updated_at"])
    _audit(
        kind=PriceChange.Kind.TIER_ASSIGNMENT,
        actor=actor,
        company=company,
        tier=tier,
        description=f"Tier of {company.name}",
        old_value=old,
        new_value=tier.name if tier else "list price",
    )
    price_lists_enqueue([company])
    return pricing


@transaction.atomic
def tier_default_update(*, actor: User, tier: PriceTier, default_discount_percent: Decimal) -> PriceTier:
    if not Decimal("0") <= default_discount_percent <= Decimal("100"):
        raise ValidationError({"default_discount_percent": "A discount is between 0 and 100 percent."})
    old = f"{tier.default_discount_percent}%"
    tier.default_discount_percent = default_discount_percent
    tier.full_clean()
    tier.save(update_fields=["default_discount_percent", "updated_at"])
    _audit(
        kind=PriceChange.Kind.TIER_DEFAULT,
        actor=actor,
        tier=tier,
        description=f"Default discount of {tier.name}",
        old_value=old,
        new_value=f"{default_discount_percent}%",
    )
    price_lists_enqueue(companies_for_tier(tier))
    return tier
