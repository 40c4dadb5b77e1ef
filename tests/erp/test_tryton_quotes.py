"""Quotes against the real Tryton: an offered quote is one sale in quotation state at the offered prices
(reference = the quote number), a new version replaces its lines, the accepted quote's order confirms
that same sale once with the PO number (after the order's approval), and a quote that ends without an
order has its quotation cancelled. Lost answers never make a second sale."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Role, StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.approvals.models import ApprovalRule
from apps.approvals.services import approval_decide
from apps.catalog.erp import PRODUCTS
from apps.catalog.models import Product
from apps.erp import inbound, services
from apps.erp.connectors.base import ErpTransientError
from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.models import ErpConnection, SyncJob
from apps.purchase_orders.models import PurchaseOrder
from apps.quotes import services as quotes
from apps.quotes.erp import QUOTE_CANCEL, QUOTE_PUSH
from apps.quotes.models import Quote
from apps.quotes.selectors import quote_sync_context
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.catalog.factories import ProductFactory

D = Decimal
Status = Quote.Status
READS = frozenset({"search", "search_read", "read", "search_count"})


@pytest.fixture
def shop(erp_connection: ErpConnection, connector: TrytonConnector, settings: Any) -> dict[str, Any]:
    # The offers here go well below the seeded list prices; the second approval has its own tests
    # (tests/quotes/test_approval.py, test_erp_follow.py): here every offer goes straight to the buyer.
    settings.QUOTE_DISCOUNT_APPROVAL_PERCENT = D("100")
    for stream in (CUSTOMERS, PRODUCTS):
        report = inbound.pull_stream(connection=erp_connection, stream=stream, connector=connector)
        assert report.error == ""
    manager = UserFactory(email="manager@wholesaler.example")
    staff_user_set_roles(user=manager, roles=[StaffRole.ACCOUNT_MANAGER])
    company = Company.objects.get(erp_customer_code="CUST-001")
    company.account_manager = manager
    company.save(update_fields=["account_manager"])
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    return {"company": company, "manager": manager, "buyer": buyer}


def _offered(shop: dict[str, Any], bolt: str = "7.1234", nut: str = "3.5000", quantity: str = "5") -> Quote:
    products = [Product.objects.get(sku="SKU-00001"), Product.objects.get(sku="SKU-00002")]
    quote = quotes.quote_request(
        company=shop["company"],
        buyer=shop["buyer"],
        message="Best price?",
        lines=[quotes.RequestedLine(products[0], D(quantity)), quotes.RequestedLine(products[1], D("3"))],
    )
    quotes.quote_review(quote=quote, actor=shop["manager"])
    _offer(shop, quote, bolt, nut, quantity)
    return Quote.objects.get(pk=quote.pk)


def _offer(shop: dict[str, Any], quote: Quote, bolt: str, nut: str, quantity: str = "5") -> None:
    products = [Product.objects.get(sku="SKU-00001"), Product.objects.get(sku="SKU-00002")]
    quotes.quote_offer(
        quote=quote,
        actor=shop["manager"],
        lines=[
            quotes.OfferedLine(products[0], D(quantity), D(bolt)),
            quotes.OfferedLine(products[1], D("3"), D(nut)),
        ],
        valid_until=timezone.localdate() + timedelta(days=10),
    )


def _dispatch(connection: ErpConnection, connector: TrytonConnector) -> services.DispatchReport:
    SyncJob.objects.filter(status=SyncJob.Status.PENDING).update(next_attempt_at=timezone.now())
    return services.dispatch(connection=connection, connector=connector)


def _sales(admin: TrytonClient, *references: str) -> list[dict[str, Any]]:
    party = admin.model("party.party", "search_read", [["code", "=", "CUST-001"]], 0, 1, None, ["id"])[0]
    return list(
        admin.model(
            "sale.sale",
            "search_read",
            [["reference", "in", list(references)], ["party", "=", party["id"]]],
            0,
            None,
            [["id", "ASC"]],
            ["reference", "description", "state", "number", "lines", "shipments", "invoices"],
        )
    )


def _lines(admin: TrytonClient, sale: dict[str, Any]) -> set[tuple[str, Decimal, Decimal]]:
    rows = admin.model("sale.line", "read", sale["lines"], ["product", "quantity", "unit_price"])
    sku = {product.erp_id: product.sku for product in Product.objects.all()}
    return {(sku[str(row["product"])], D(str(row["quantity"])), row["unit_price"]) for row in rows}


@contextmanager
def _answer_lost(connector: TrytonConnector, method: str) -> Iterator[list[str]]:
    """The first ``method`` write the connector sends is committed in the ERP, but its answer is lost."""
    client = connector.client
    model = client.model
    lost: list[str] = []

    def answer_lost(name: str, called: str, *args: Any, **kwargs: Any) -> Any:
        result = model(name, called, *args, **kwargs)
        if called == method and not lost:
            lost.append(f"{name}.{called}")
            raise ErpTransientError(f"The ERP did not answer {name}.{called} in time.")
        return result

    client.model = answer_lost  # type: ignore[method-assign]
    try:
        yield lost
    finally:
        client.model = model  # type: ignore[method-assign]
    assert lost, f"the connector sent no {method}"


def test_offered_quote_is_one_quotation_its_versions_replace_the_lines_and_its_order_confirms_it_once(
    erp_connection: ErpConnection, connector: TrytonConnector, erp_admin: TrytonClient, shop: dict[str, Any]
) -> None:
    quote = _offered(shop)

    assert _dispatch(erp_connection, connector).succeeded == 1
    (sale,) = _sales(erp_admin, quote.number)
    assert (sale["state"], sale["description"]) == ("quotation", f"Quote {quote.number} v1")
    assert _lines(erp_admin, sale) == {("SKU-00001", D("5"), D("7.1234")), ("SKU-00002", D("3"), D("3.5000"))}
    context = quote_sync_context(quote)
    assert (context["sync_state"].state, context["erp_keeps_quotes"]) == ("synced", True)
    assert "ERP quotation" in context["events"][0].message

    quotes.quote_counter(quote=quote, actor=shop["buyer"], message="Ten bolts at 6.90?")
    _offer(shop, quote, "6.9000", "3.4000", quantity="10")
    _dispatch(erp_connection, connector)

    (again,) = _sales(erp_admin, quote.number)
    assert (again["id"], again["state"], again["description"]) == (
        sale["id"],
        "quotation",
        f"Quote {quote.number} v2",
    )
    assert _lines(erp_admin, again) == {
        ("SKU-00001", D("10"), D("6.9000")),
        ("SKU-00002", D("3"), D("3.4000")),
    }

    quote = quotes.quote_accept(quote=quote, actor=shop["buyer"], customer_po_number="PO-QUOTE-1")
    order = PurchaseOrder.objects.get(pk=quote.purchase_order_id)
    assert order.status == PurchaseOrder.Status.APPROVED
    assert quote_sync_context(quote)["sync_state"].state == "pending"  # the order's push is the quote's too
    with _answer_lost(connector, "confirm"):  # the ERP confirmed it; the portal never heard
        _dispatch(erp_connection, connector)
    assert SyncJob.objects.get(kind="order.push").status == SyncJob.Status.PENDING
    _dispatch(erp_connection, connector)
    _dispatch(erp_connection, connector)

    (confirmed,) = _sales(erp_admin, quote.number, "PO-QUOTE-1")
    assert confirmed["id"] == sale["id"]
    assert (confirmed["reference"], confirmed["state"]) == ("PO-QUOTE-1", "processing")
    assert (len(confirmed["shipments"]), len(confirmed["invoices"])) == (1, 1)  # processed once
    assert _lines(erp_admin, confirmed) == {
        ("SKU-00001", D("10"), D("6.9000")),
        ("SKU-00002", D("3"), D("3.4000")),
    }
    order.refresh_from_db()
    assert (order.status, order.erp_reference) == (PurchaseOrder.Status.ACCEPTED, confirmed["number"])
    push = SyncJob.objects.get(kind="order.push")
    assert push.status == SyncJob.Status.SUCCEEDED
    assert f"made from quotation {quote.number}" in push.events.first().message
    context = quote_sync_context(quote)
    assert context["sync_state"].state == "synced"
    messages = [event.message for event in context["events"]]
    assert any(f"made from quotation {quote.number}" in message for message in messages)
    assert any("ERP quotation" in message for message in messages)
    assert not SyncJob.objects.filter(kind=QUOTE_CANCEL).exists()


def test_the_quotation_is_confirmed_only_when_the_order_is_approved(
    erp_connection: ErpConnection, connector: TrytonConnector, erp_admin: TrytonClient, shop: dict[str, Any]
) -> None:
    company = shop["company"]
    ApprovalRule.objects.create(
        company=company,
        name="All orders",
        condition="total_at_least",
        amount=D("1"),
        step=1,
        approver_role=Role.APPROVER,
    )
    approver = MembershipFactory(company=company, role=Role.APPROVER).user
    quote = _offered(shop)
    quote = quotes.quote_accept(quote=quote, actor=shop["buyer"], customer_po_number="PO-QUOTE-2")
    order = PurchaseOrder.objects.get(pk=quote.purchase_order_id)
    assert order.status == PurchaseOrder.Status.AWAITING_APPROVAL

    _dispatch(erp_connection, connector)

    (sale,) = _sales(erp_admin, quote.number, "PO-QUOTE-2")
    assert (sale["reference"], sale["state"]) == (quote.number, "quotation")
    assert not SyncJob.objects.filter(kind="order.push").exists()

    approval_decide(request=order.approval_requests.get(), actor=approver, approve=True)
    _dispatch(erp_connection, connector)

    (confirmed,) = _sales(erp_admin, quote.number, "PO-QUOTE-2")
    assert (confirmed["id"], confirmed["reference"], confirmed["state"]) == (
        sale["id"],
        "PO-QUOTE-2",
        "processing",
    )


def test_a_quote_push_retried_after_a_lost_answer_leaves_one_quotation(
    erp_connection: ErpConnection, connector: TrytonConnector, erp_admin: TrytonClient, shop: dict[str, Any]
) -> None:
    quote = _offered(shop)

    with _answer_lost(connector, "create"):
        report = _dispatch(erp_connection, connector)
    assert (report.succeeded, report.retrying) == (0, 1)
    _dispatch(erp_connection, connector)

    (sale,) = _sales(erp_admin, quote.number)
    assert sale["state"] == "quotation"
    assert _lines(erp_admin, sale) == {("SKU-00001", D("5"), D("7.1234")), ("SKU-00002", D("3"), D("3.5000"))}
    job = SyncJob.objects.get(kind=QUOTE_PUSH)
    assert (job.status, job.attempts) == (SyncJob.Status.SUCCEEDED, 2)


def test_a_takeover_retried_after_a_lost_answer_confirms_the_one_sale(
    erp_connection: ErpConnection, connector: TrytonConnector, erp_admin: TrytonClient, shop: dict[str, Any]
) -> None:
    quote = _offered(shop)
    _dispatch(erp_connection, connector)
    quote = quotes.quote_accept(quote=quote, actor=shop["buyer"], customer_po_number="PO-QUOTE-3")

    with _answer_lost(connector, "write"):  # the quotation became the order's sale; no answer came
        _dispatch(erp_connection, connector)
    (written,) = _sales(erp_admin, quote.number, "PO-QUOTE-3")
    assert (written["reference"], written["state"]) == ("PO-QUOTE-3", "draft")
    _dispatch(erp_connection, connector)

    (sale,) = _sales(erp_admin, quote.number, "PO-QUOTE-3")
    assert (sale["id"], sale["state"]) == (written["id"], "processing")
    assert SyncJob.objects.get(kind="order.push").status == SyncJob.Status.SUCCEEDED


@pytest.mark.parametrize("ending", [Status.DECLINED, Status.CLOSED, Status.EXPIRED])
def test_a_quote_that_ends_without_an_order_has_its_quotation_cancelled_once(
    erp_connection: ErpConnection,
    connector: TrytonConnector,
    erp_admin: TrytonClient,
    shop: dict[str, Any],
    ending: Status,
) -> None:
    quote = _offered(shop)
    _dispatch(erp_connection, connector)
    if ending == Status.DECLINED:
        quotes.quote_decline(quote=quote, actor=shop["manager"], message="Out of stock")
    elif ending == Status.CLOSED:
        quotes.quote_close(quote=quote, actor=shop["buyer"])
    else:
        quotes.quote_expire(quote=quote, now=timezone.now() + timedelta(days=30))

    _dispatch(erp_connection, connector)
    _dispatch(erp_connection, connector)

    (sale,) = _sales(erp_admin, quote.number)
    assert sale["state"] == "cancelled"
    job = SyncJob.objects.get(kind=QUOTE_CANCEL)
    assert (job.status, job.erp_reference, job.attempts) == (SyncJob.Status.SUCCEEDED, str(sale["id"]), 1)
    assert quote_sync_context(Quote.objects.get(pk=quote.pk))["sync_state"].state == "synced"


def test_a_quote_declined_before_its_push_ran_sends_nothing(
    erp_connection: ErpConnection, connector: TrytonConnector, erp_admin: TrytonClient, shop: dict[str, Any]
) -> None:
    quote = _offered(shop)
    quotes.quote_decline(quote=quote, actor=shop["manager"], message="Priced by mistake")

    _dispatch(erp_connection, connector)
    _dispatch(erp_connection, connector)

    assert _sales(erp_admin, quote.number) == []
    assert set(SyncJob.objects.values_list("kind", "status")) == {
        (QUOTE_PUSH, SyncJob.Status.SUCCEEDED),
        (QUOTE_CANCEL, SyncJob.Status.SUCCEEDED),
    }


def test_an_order_push_waits_for_its_quotes_push_still_under_way(
    erp_connection: ErpConnection, connector: TrytonConnector, erp_admin: TrytonClient, shop: dict[str, Any]
) -> None:
    quote = _offered(shop)
    quote = quotes.quote_accept(quote=quote, actor=shop["buyer"], customer_po_number="PO-QUOTE-4")
    later = timezone.now() + timedelta(hours=1)
    SyncJob.objects.filter(kind=QUOTE_PUSH).update(next_attempt_at=later)  # backing off, say

    services.dispatch(connection=erp_connection, connector=connector)

    order_push = SyncJob.objects.get(kind="order.push")
    assert (order_push.status, order_push.last_error, order_push.attempts) == (
        SyncJob.Status.PENDING,
        f"Waiting for the ERP quotation of quote {quote.number} first.",
        0,  # waiting spends no attempt: however long the quote's push takes, the order never dies of it
    )
    assert _sales(erp_admin, quote.number, "PO-QUOTE-4") == []
    assert quote_sync_context(quote)["sync_state"].state == "pending"

    _dispatch(erp_connection, connector)  # the quote's push first (the older job), then the order's
    _dispatch(erp_connection, connector)

    (sale,) = _sales(erp_admin, quote.number, "PO-QUOTE-4")
    assert (sale["reference"], sale["state"]) == ("PO-QUOTE-4", "processing")
    assert set(SyncJob.objects.values_list("status", flat=True)) == {SyncJob.Status.SUCCEEDED}


def test_the_quotation_of_an_order_rejected_before_the_erp_had_it_is_cancelled(
    erp_connection: ErpConnection, connector: TrytonConnector, erp_admin: TrytonClient, shop: dict[str, Any]
) -> None:
    company = shop["company"]
    ApprovalRule.objects.create(
        company=company,
        name="All orders",
        condition="total_at_least",
        amount=D("1"),
        step=1,
        approver_role=Role.APPROVER,
    )
    approver = MembershipFactory(company=company, role=Role.APPROVER).user
    quote = quotes.quote_accept(quote=_offered(shop), actor=shop["buyer"], customer_po_number="PO-QUOTE-5")
    _dispatch(erp_connection, connector)
    order = PurchaseOrder.objects.get(pk=quote.purchase_order_id)

    approval_decide(request=order.approval_requests.get(), actor=approver, approve=False, comment="Too much")
    _dispatch(erp_connection, connector)

    (sale,) = _sales(erp_admin, quote.number, "PO-QUOTE-5")
    assert (sale["reference"], sale["state"]) == (quote.number, "cancelled")
    assert not SyncJob.objects.filter(kind="order.push").exists()
    assert SyncJob.objects.get(kind=QUOTE_CANCEL).status == SyncJob.Status.SUCCEEDED


def test_a_refused_version_shows_failed_until_a_later_version_goes_through(
    erp_connection: ErpConnection, connector: TrytonConnector, erp_admin: TrytonClient, shop: dict[str, Any]
) -> None:
    bolt = Product.objects.get(sku="SKU-00001")
    local = ProductFactory(sku="LOCAL-ONLY", erp_id="999999")  # the ERP has no such product
    quote = quotes.quote_request(
        company=shop["company"],
        buyer=shop["buyer"],
        message="Bolts and a spare",
        lines=[quotes.RequestedLine(bolt, D("5")), quotes.RequestedLine(local, D("1"))],
    )
    quotes.quote_review(quote=quote, actor=shop["manager"])
    valid_until = timezone.localdate() + timedelta(days=10)
    quotes.quote_offer(
        quote=quote,
        actor=shop["manager"],
        lines=[quotes.OfferedLine(bolt, D("5"), D("7.0000")), quotes.OfferedLine(local, D("1"), D("2.0000"))],
        valid_until=valid_until,
    )

    _dispatch(erp_connection, connector)

    state = quote_sync_context(quote)["sync_state"]
    assert (state.state, "999999" in state.reason) == ("failed", True)
    assert _sales(erp_admin, quote.number) == []

    quotes.quote_counter(quote=quote, actor=shop["buyer"], message="Just the bolts, then")
    quotes.quote_offer(
        quote=quote,
        actor=shop["manager"],
        lines=[quotes.OfferedLine(bolt, D("5"), D("6.5000"))],
        valid_until=valid_until,
    )
    _dispatch(erp_connection, connector)

    (sale,) = _sales(erp_admin, quote.number)
    assert _lines(erp_admin, sale) == {("SKU-00001", D("5"), D("6.5000"))}
    assert quote_sync_context(quote)["sync_state"].state == "synced"
    assert SyncJob.objects.get(idempotency_key=f"{QUOTE_PUSH}:{quote.pk}:v1").status == SyncJob.Status.FAILED
