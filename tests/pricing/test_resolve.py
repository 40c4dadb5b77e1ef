"""Price resolution: precedence, dates, breaks, and properties that must hold for any price book."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.catalog.models import Product
from apps.pricing.models import CompanyPricing, ContractPrice, PriceTier, TierPrice
from apps.pricing.selectors import Source, _quote, _Rows, price_resolve, price_resolve_many
from tests.accounts.factories import CompanyFactory
from tests.catalog.factories import ProductFactory
from tests.pricing.factories import ContractPriceFactory, PriceTierFactory, TierPriceFactory

D = Decimal
TODAY = date(2026, 11, 26)


@pytest.fixture
def gold(db: None) -> PriceTier:
    return PriceTierFactory(name="Gold", default_discount_percent=D("15.00"))


@pytest.fixture
def product(db: None) -> Product:
    return ProductFactory(sku="SKU-1", list_price=D("10.0000"))


@pytest.fixture
def account(gold: PriceTier):
    company = CompanyFactory()
    CompanyPricing.objects.create(company=company, tier=gold)
    return company


def test_no_tier_pays_list_price(product: Product) -> None:
    quote = price_resolve(account=CompanyFactory(), product=product, on_date=TODAY)

    assert (quote.unit_price, quote.source) == (D("10.0000"), Source.LIST)
    assert quote.next_break is None


def test_tier_default_discount(account, product: Product) -> None:
    quote = price_resolve(account=account, product=product, on_date=TODAY)

    assert (quote.unit_price, quote.source) == (D("8.5000"), Source.TIER_DEFAULT)


def test_tier_breaks_and_next_break(account, gold: PriceTier, product: Product) -> None:
    TierPriceFactory(tier=gold, product=product, min_quantity=D("10"), unit_price=D("8.0000"))
    TierPriceFactory(tier=gold, product=product, min_quantity=D("50"), unit_price=D("7.2500"))

    low = price_resolve(account=account, product=product, quantity=D("9"), on_date=TODAY)
    mid = price_resolve(account=account, product=product, quantity=D("10"), on_date=TODAY)
    high = price_resolve(account=account, product=product, quantity=D("500"), on_date=TODAY)

    assert (low.unit_price, low.source) == (D("8.5000"), Source.TIER_DEFAULT)
    assert (low.next_break.min_quantity, low.next_break.unit_price) == (D("10"), D("8.0000"))
    assert (mid.unit_price, mid.source) == (D("8.0000"), Source.TIER_BREAK)
    assert mid.next_break.unit_price == D("7.2500")
    assert (high.unit_price, high.next_break) == (D("7.2500"), None)
    assert [(b.min_quantity, b.unit_price) for b in high.breaks] == [
        (D("1"), D("8.5000")),
        (D("10"), D("8.0000")),
        (D("50"), D("7.2500")),
    ]


def test_contract_beats_tier_even_when_dearer(account, gold: PriceTier, product: Product) -> None:
    TierPriceFactory(tier=gold, product=product, unit_price=D("6.0000"))
    ContractPriceFactory(company=account, product=product, unit_price=D("6.5000"))

    quote = price_resolve(account=account, product=product, on_date=TODAY)

    assert (quote.unit_price, quote.source) == (D("6.5000"), Source.CONTRACT)


def test_contract_from_a_quantity_leaves_smaller_orders_to_the_tier(account, product: Product) -> None:
    ContractPriceFactory(company=account, product=product, min_quantity=D("100"), unit_price=D("6.0000"))

    small = price_resolve(account=account, product=product, quantity=D("99"), on_date=TODAY)
    large = price_resolve(account=account, product=product, quantity=D("100"), on_date=TODAY)

    assert (small.unit_price, small.source) == (D("8.5000"), Source.TIER_DEFAULT)
    assert (large.unit_price, large.source) == (D("6.0000"), Source.CONTRACT)


def test_dates_past_current_and_scheduled(account, gold: PriceTier, product: Product) -> None:
    TierPriceFactory(
        tier=gold,
        product=product,
        unit_price=D("8.0000"),
        valid_from=date(2026, 1, 1),
        valid_to=date(2026, 11, 30),
    )
    TierPriceFactory(tier=gold, product=product, unit_price=D("7.0000"), valid_from=date(2026, 12, 1))

    def on(day: date) -> Decimal:
        return price_resolve(account=account, product=product, on_date=day).unit_price

    assert on(date(2025, 12, 31)) == D("8.5000")  # before any tier price: tier default
    assert on(date(2026, 11, 30)) == D("8.0000")  # last day of the old price (inclusive)
    assert on(date(2026, 12, 1)) == D("7.0000")  # the scheduled price takes over
    assert on(date(2030, 1, 1)) == D("7.0000")


def test_another_companys_contract_never_applies(account, product: Product) -> None:
    ContractPriceFactory(company=CompanyFactory(), product=product, unit_price=D("1.0000"))

    assert price_resolve(account=account, product=product, on_date=TODAY).unit_price == D("8.5000")


@pytest.mark.parametrize("page_size", [5, 50])
def test_batch_costs_the_same_queries_whatever_the_page_size(
    account, gold: PriceTier, page_size: int, django_assert_num_queries
) -> None:
    products = ProductFactory.create_batch(page_size)
    for item in products[::2]:
        TierPriceFactory(tier=gold, product=item, min_quantity=D("5"))
        ContractPriceFactory(company=account, product=item, min_quantity=D("20"))

    with django_assert_num_queries(3):
        quotes = price_resolve_many(account=account, products=products, on_date=TODAY)

    assert len(quotes) == page_size


# --- Properties (pure: the resolver's rule on unsaved rows) ----------------------------------------------

prices = st.decimals(min_value=D("0"), max_value=D("9999"), places=4)
quantities = st.decimals(min_value=D("1"), max_value=D("10000"), places=0)
discounts = st.decimals(min_value=D("0"), max_value=D("100"), places=2)


def _product(list_price: Decimal) -> Product:
    return Product(pk=1, sku="P", name="P", unit="u", list_price=list_price, erp_id="1")


def _rows(tier_breaks, contract_breaks, discount) -> _Rows:  # type: ignore[no-untyped-def]
    tier = PriceTier(pk=1, name="T", default_discount_percent=discount)
    return _Rows(
        tier=tier,
        contract={
            1: [
                ContractPrice(product_id=1, min_quantity=q, unit_price=p, valid_from=TODAY)
                for q, p in contract_breaks
            ]
        },
        tier_rows={
            1: [
                TierPrice(product_id=1, min_quantity=q, unit_price=p, valid_from=TODAY)
                for q, p in tier_breaks
            ]
        },
    )


breaks = st.lists(st.tuples(quantities, prices), max_size=5)


@settings(max_examples=200, deadline=None)
@given(list_price=prices, discount=discounts, tier_breaks=breaks, contract_breaks=breaks, quantity=quantities)
def test_never_negative(list_price, discount, tier_breaks, contract_breaks, quantity) -> None:  # type: ignore[no-untyped-def]
    quote = _quote(_product(list_price), quantity, _rows(tier_breaks, contract_breaks, discount))

    assert quote.unit_price >= 0
    assert quote.unit_price == quote.unit_price.quantize(D("0.0001"))


@settings(max_examples=200, deadline=None)
@given(
    list_price=prices,
    discount=discounts,
    tier_breaks=breaks,
    contract_breaks=st.lists(st.tuples(quantities, prices), min_size=1, max_size=5),
    quantity=quantities,
)
def test_an_applicable_contract_price_beats_the_tier(
    list_price, discount, tier_breaks, contract_breaks, quantity
) -> None:  # type: ignore[no-untyped-def]
    quote = _quote(_product(list_price), quantity, _rows(tier_breaks, contract_breaks, discount))

    applicable = [price for minimum, price in contract_breaks if minimum <= quantity]
    if applicable:
        assert quote.source == Source.CONTRACT
        assert quote.unit_price == min(applicable)
    else:
        assert quote.source != Source.CONTRACT


@settings(max_examples=200, deadline=None)
@given(list_price=prices, discount=discounts, tier_breaks=breaks, small=quantities, extra=quantities)
def test_inside_one_tier_more_never_costs_more_per_unit(
    list_price, discount, tier_breaks, small, extra
) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(tier_breaks, [], discount)
    product = _product(list_price)

    assert _quote(product, small + extra, rows).unit_price <= _quote(product, small, rows).unit_price


@settings(max_examples=100, deadline=None)
@given(list_price=prices, discount=discounts, tier_breaks=breaks, quantity=quantities)
def test_the_next_break_is_cheaper_and_larger(list_price, discount, tier_breaks, quantity) -> None:  # type: ignore[no-untyped-def]
    quote = _quote(_product(list_price), quantity, _rows(tier_breaks, [], discount))

    if quote.next_break is not None:
        assert quote.next_break.min_quantity > quantity
        assert quote.next_break.unit_price < quote.unit_price


def test_dates_default_to_today(account, product: Product) -> None:
    ContractPriceFactory(company=account, product=product, valid_from=date.today() + timedelta(days=1))  # noqa: DTZ011

    assert price_resolve(account=account, product=product).source == Source.TIER_DEFAULT
