"""Accepting makes exactly one order at the offered prices, through approvals and the credit check like
any order; later price changes touch neither the quote nor the order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest

from apps.accounts.models import Company
from apps.approvals.models import ApprovalRule
from apps.catalog.models import Product
from apps.pricing.models import CompanyPricing
from apps.purchase_orders.models import PurchaseOrder
from apps.quotes import services as quotes
from apps.quotes.exceptions import OrderNumberTaken, QuoteError
from apps.quotes.models import Quote, QuoteLine
from tests.credit.factories import CreditAccountFactory
from tests.pricing.factories import ContractPriceFactory, PriceTierFactory, TierPriceFactory
from tests.quotes.conftest import NOW, Team, offer, refreshed
from tests.quotes.test_transitions import snapshot

Status = Quote.Status
PO = PurchaseOrder.Status
D = Decimal


def _second_version(team: Team, quote_in: Callable[[Status], Quote]) -> Quote:
    quote = quote_in(Status.OFFERED)
    quotes.quote_counter(quote=quote, actor=team.buyer, message="8.00 for the bolts?", now=NOW)
    offer(team, quote, bolt="8.0000")
    return refreshed(quote)


def test_accept_makes_one_order_at_the_offered_prices(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = _second_version(team, quote_in)

    quote = quotes.quote_accept(quote=quote, actor=team.buyer, customer_po_number="PO-77", now=NOW)

    order = PurchaseOrder.objects.get()
    assert quote.status == Status.ORDERED
    assert quote.purchase_order == order
    assert (order.customer_po_number, order.buyer, order.company, order.status) == (
        "PO-77",
        team.buyer,
        team.company,
        PO.APPROVED,  # no approval rule, no credit account: straight through, as any order
    )
    source = f"quote {quote.number} v2"
    assert [
        (line.product.sku, line.quantity, line.unit_price, line.price_source, line.line_amount)
        for line in order.lines.all()
    ] == [
        ("BOLT", D("100"), D("8.0000"), source, D("800.00")),
        ("NUT", D("40"), D("2.1000"), source, D("84.00")),
    ]
    assert order.total_amount == D("884.00")
    assert [event.to_status for event in quote.events.all()][-2:] == [Status.ACCEPTED, Status.ORDERED]


def test_a_second_accept_returns_the_same_order(team: Team, quote_in: Callable[[Status], Quote]) -> None:
    quote = quote_in(Status.OFFERED)
    first = quotes.quote_accept(quote=quote, actor=team.buyer, now=NOW)
    before = snapshot(quote)

    second = quotes.quote_accept(quote=quote, actor=team.buyer, now=NOW + timedelta(seconds=1))

    assert second.purchase_order_id == first.purchase_order_id
    assert PurchaseOrder.objects.count() == 1
    assert snapshot(quote) == before


def test_the_order_goes_through_the_companys_approval_rules(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    ApprovalRule.objects.create(
        company=team.company, name="Big orders", condition="total_at_least", amount=D("500"), step=1
    )
    quote = quote_in(Status.OFFERED)

    quotes.quote_accept(quote=quote, actor=team.buyer, now=NOW)

    order = PurchaseOrder.objects.get()
    assert order.status == PO.AWAITING_APPROVAL
    assert "500" in order.approval_requests.get().reason
    assert refreshed(quote).status == Status.ORDERED


def test_the_order_goes_through_the_credit_check(team: Team, quote_in: Callable[[Status], Quote]) -> None:
    CreditAccountFactory(company=team.company, credit_limit=D("500.00"))
    quote = quote_in(Status.OFFERED)

    quotes.quote_accept(quote=quote, actor=team.buyer, now=NOW)

    assert PurchaseOrder.objects.get().status == PO.CREDIT_HOLD  # 934.00 against 500.00


def test_an_order_the_portal_refuses_leaves_the_quote_offered(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.OFFERED)
    Company.objects.filter(pk=team.company.pk).update(status=Company.Status.ON_HOLD, hold_reason="Past due")
    before = snapshot(quote)

    with pytest.raises(QuoteError, match="on hold"):
        quotes.quote_accept(quote=quote, actor=team.buyer, now=NOW)

    assert snapshot(quote) == before
    assert refreshed(quote).status == Status.OFFERED
    assert not PurchaseOrder.objects.exists()


def test_an_order_number_the_company_already_used_is_refused_and_nothing_changes(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    earlier = quote_in(Status.ORDERED)  # its order took the number of its quote
    quote = quote_in(Status.OFFERED)
    before = snapshot(quote)

    with pytest.raises(OrderNumberTaken, match=f"already has an order {earlier.number}"):
        quotes.quote_accept(quote=quote, actor=team.buyer, customer_po_number=earlier.number, now=NOW)

    assert snapshot(quote) == before
    assert PurchaseOrder.objects.count() == 1


def _prices_change(team: Team) -> None:
    bolt = team.products[0]
    Product.objects.filter(pk=bolt.pk).update(list_price=D("20.0000"))
    tier = PriceTierFactory(name="Gold")
    TierPriceFactory(tier=tier, product=bolt, unit_price=D("5.0000"), valid_from=date(2026, 1, 1))
    CompanyPricing.objects.update_or_create(company=team.company, defaults={"tier": tier})
    ContractPriceFactory(
        company=team.company, product=bolt, unit_price=D("4.0000"), valid_from=date(2026, 1, 1)
    )


def test_a_price_change_before_accepting_does_not_alter_the_offer(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.OFFERED)
    _prices_change(team)

    quotes.quote_accept(quote=quote, actor=team.buyer, now=NOW)

    bolt_line = PurchaseOrder.objects.get().lines.get(product=team.products[0])
    assert (bolt_line.unit_price, bolt_line.price_source) == (D("8.5000"), f"quote {quote.number} v1")


def test_a_price_change_after_accepting_alters_neither_quote_nor_order(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quotes.quote_accept(quote=quote_in(Status.OFFERED), actor=team.buyer, now=NOW)
    order = PurchaseOrder.objects.get()

    def frozen() -> tuple[object, ...]:
        lines = QuoteLine.objects.filter(version__quote=quote).order_by("id")
        order_lines = order.lines.order_by("id")
        return (
            [
                (line.unit_price, line.list_price, line.reference_price, line.reference_source)
                for line in lines
            ],
            [(line.unit_price, line.price_source, line.line_amount) for line in order_lines],
            PurchaseOrder.objects.get(pk=order.pk).total_amount,
        )

    before = frozen()
    _prices_change(team)

    assert frozen() == before
    assert before[1][0] == (D("8.5000"), f"quote {quote.number} v1", D("850.00"))
