"""Credit against the real Tryton 8.2: the limit the portal enforces is the ERP's, held orders stay out of
the ERP until finance releases them, and a release is the ERP's credit warning accepted for that sale only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.utils import timezone

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Role, StaffRole
from apps.catalog.erp import PRODUCTS
from apps.catalog.models import Product
from apps.credit import services as credit
from apps.credit.models import CreditAccount, CreditHold
from apps.erp import inbound, services
from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.models import ErpConnection, SyncEvent, SyncJob
from apps.purchase_orders import services as orders
from apps.purchase_orders.exceptions import PurchaseOrderError
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route
from tests.accounts.factories import MembershipFactory
from tools.tryton import erp

Status = PurchaseOrder.Status
HARBOR = "CUST-003"  # Harbor Point Builders Inc., credit limit 10,000 in the seeded ERP
ACME = "CUST-001"  # Acme Hardware Co., credit limit 25,000
SKU = "SKU-00002"


@pytest.fixture
def finance_connector(erp_connection: ErpConnection, erp_server: erp.ErpServer) -> Iterator[TrytonConnector]:
    """The portal user plus the ERP's finance user, who may accept a credit-limit warning."""
    active = TrytonConnector.for_connection(
        erp_connection, finance_username=erp.ERP_FINANCE_USER, finance_password=erp_server.password
    )
    yield active
    active.close()


@pytest.fixture
def finance(staff_factory: Any) -> AbstractUser:
    return staff_factory(StaffRole.FINANCE, email="finance@wholesaler.example")


def _pull(connection: ErpConnection, connector: TrytonConnector, stream: str) -> None:
    report = inbound.pull_stream(connection=connection, stream=stream, connector=connector)
    assert report.error == ""


def _pull_catalogue(connection: ErpConnection, connector: TrytonConnector) -> None:
    for stream in (CUSTOMERS, PRODUCTS):
        _pull(connection, connector, stream)


def _quantity_for(amount: int) -> Decimal:
    """Whole units of SKU so that the order comes to at least ``amount`` at the pulled list price."""
    price = Product.objects.get(sku=SKU).list_price
    return (Decimal(amount) / price).to_integral_value(rounding=ROUND_CEILING)


def _draft(company: Company, number: str, amount: int) -> PurchaseOrder:
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    order = orders.purchase_order_draft_get(company=company, buyer=buyer)
    order.customer_po_number = number
    order.ship_to = company.ship_to_addresses.filter(erp_address_id__gt="").first()
    order.save()
    result = orders.purchase_order_lines_add(
        purchase_order=order, lines=[ParsedLine(1, SKU, _quantity_for(amount), "")]
    )
    assert result.added == 1
    return order


def _submit(company: Company, number: str, amount: int) -> PurchaseOrder:
    order = _draft(company, number, amount)
    return purchase_order_submit_and_route(purchase_order=order, actor=order.buyer)


def _party(client: TrytonClient, code: str) -> dict[str, Any]:
    (row,) = client.model(
        "party.party",
        "search_read",
        [["code", "=", code]],
        0,
        1,
        None,
        ["name", "credit_amount", "credit_limit_amount", "categories"],
    )
    return row


def _sales(client: TrytonClient, reference: str) -> list[dict[str, Any]]:
    return client.model(
        "sale.sale",
        "search_read",
        [["reference", "=", reference]],
        0,
        None,
        [["id", "ASC"]],
        ["number", "state", "party", "reference", "total_amount"],
    )


def _warnings(client: TrytonClient) -> list[dict[str, Any]]:
    return client.model("res.user.warning", "search_read", [], 0, None, None, ["user", "name", "always"])


def _push_job(order: PurchaseOrder) -> SyncJob:
    return SyncJob.objects.get(kind="order.push", target_id=str(order.pk))


def test_the_erp_limit_is_the_one_enforced_and_an_order_within_it_is_confirmed_by_the_portal_user(
    erp_connection: ErpConnection, connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    _pull_catalogue(erp_connection, connector)
    harbor = Company.objects.get(erp_customer_code=HARBOR)
    acme = Company.objects.get(erp_customer_code=ACME)
    assert CreditAccount.objects.get(company=harbor).credit_limit == Decimal("10000.00")
    assert CreditAccount.objects.get(company=acme).credit_limit == Decimal("25000.00")
    assert _party(erp_admin, HARBOR)["credit_limit_amount"] == Decimal("10000")

    # 12,000 is over Harbor's limit but within Acme's: each customer is checked against its own.
    big_acme = _submit(acme, "PO-ACME-12K", 12_000)
    within = _submit(harbor, "PO-HARBOR-4K", 4_000)

    assert big_acme.status == Status.APPROVED
    assert within.status == Status.APPROVED
    assert not CreditHold.objects.exists()
    left = Decimal("10000.00") - within.total_amount
    assert within.status_changes.last().note == f"no approval rule applies; within credit: {left} USD left"

    report = services.dispatch(connection=erp_connection, connector=connector)

    assert (report.succeeded, report.failed) == (2, 0)
    for order, code in ((big_acme, ACME), (within, HARBOR)):
        order.refresh_from_db()
        assert order.status == Status.ACCEPTED
        (sale,) = _sales(erp_admin, order.customer_po_number)
        assert (sale["state"], sale["party"], sale["reference"], sale["number"]) == (
            "processing",
            _party(erp_admin, code)["id"],
            order.customer_po_number,
            order.erp_reference,
        )
        assert sale["total_amount"] == order.total_amount
    assert _party(erp_admin, HARBOR)["credit_amount"] == within.total_amount
    assert _warnings(erp_admin) == []


def test_an_order_over_the_limit_waits_for_finance_then_the_erp_accepts_that_sale_only(
    erp_connection: ErpConnection,
    connector: TrytonConnector,
    finance_connector: TrytonConnector,
    erp_admin: TrytonClient,
    finance: AbstractUser,
) -> None:
    _pull_catalogue(erp_connection, connector)
    harbor = Company.objects.get(erp_customer_code=HARBOR)
    # Approved within the limit; its push waits (the ERP was busy: backoff) while the next one is decided.
    early = _submit(harbor, "PO-HARBOR-EARLY", 500)
    assert early.status == Status.APPROVED
    SyncJob.objects.filter(pk=_push_job(early).pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))

    held = _submit(harbor, "PO-HARBOR-12K", 12_000)

    assert held.status == Status.CREDIT_HOLD
    hold = CreditHold.objects.get(purchase_order=held)
    assert (hold.status, hold.reasons) == (CreditHold.Status.OPEN, [CreditHold.Reason.OVER_LIMIT])
    assert (hold.credit_limit, hold.exposure, hold.order_amount) == (
        Decimal("10000.00"),
        early.total_amount,
        held.total_amount,
    )
    assert "over its credit limit of 10000.00 USD" in hold.message
    assert not SyncJob.objects.filter(target_id=str(held.pk)).exists()
    assert services.dispatch(connection=erp_connection, connector=finance_connector).claimed == 0
    assert _sales(erp_admin, "PO-HARBOR-12K") == []

    credit.credit_hold_release(hold=hold, actor=finance, note="Customer in good standing; one-off overrun")
    report = services.dispatch(connection=erp_connection, connector=finance_connector)

    assert (report.claimed, report.succeeded, report.failed) == (1, 1, 0)
    held.refresh_from_db()
    assert held.status == Status.ACCEPTED
    (sale,) = _sales(erp_admin, "PO-HARBOR-12K")
    assert (sale["state"], sale["party"], sale["number"]) == (
        "processing",
        _party(erp_admin, HARBOR)["id"],
        held.erp_reference,
    )
    assert _party(erp_admin, HARBOR)["credit_amount"] == held.total_amount
    # The acceptance was for that sale only: nothing is left that would let another one through.
    assert _warnings(erp_admin) == []

    # The earlier order now reaches the ERP, unreleased: the portal user's confirm is refused, and the
    # order goes to finance's queue instead of failing quietly.
    SyncJob.objects.filter(pk=_push_job(early).pk).update(next_attempt_at=timezone.now())
    report = services.dispatch(connection=erp_connection, connector=finance_connector)

    assert (report.claimed, report.succeeded, report.failed) == (1, 0, 1)
    early.refresh_from_db()
    assert early.status == Status.CREDIT_HOLD
    erp_hold = CreditHold.objects.get(purchase_order=early)
    assert erp_hold.reasons == [CreditHold.Reason.ERP_REFUSED]
    assert "credit limit" in erp_hold.message
    job = _push_job(early)
    assert (job.status, job.last_error_kind) == (SyncJob.Status.FAILED, SyncJob.ErrorKind.BUSINESS)
    assert "Harbor Point Builders Inc." in job.last_error
    assert "credit limit" in job.last_error
    (sale,) = _sales(erp_admin, "PO-HARBOR-EARLY")
    assert sale["state"] == "quotation"
    assert _party(erp_admin, HARBOR)["credit_amount"] == held.total_amount
    assert _warnings(erp_admin) == []

    # Finance refuses it: the ERP's quotation is cancelled so it never goes on.
    credit.credit_hold_reject(hold=erp_hold, actor=finance, note="Over the limit in the ERP")
    report = services.dispatch(connection=erp_connection, connector=finance_connector)

    assert (report.claimed, report.succeeded) == (1, 1)
    (sale,) = _sales(erp_admin, "PO-HARBOR-EARLY")
    assert sale["state"] == "cancelled"
    early.refresh_from_db()
    assert early.status == Status.REJECTED
    assert _party(erp_admin, HARBOR)["credit_amount"] == held.total_amount


def test_a_rejected_hold_never_reaches_the_erp(
    erp_connection: ErpConnection,
    connector: TrytonConnector,
    finance_connector: TrytonConnector,
    erp_admin: TrytonClient,
    finance: AbstractUser,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    _pull_catalogue(erp_connection, connector)
    harbor = Company.objects.get(erp_customer_code=HARBOR)
    held = _submit(harbor, "PO-HARBOR-NO", 15_000)
    hold = CreditHold.objects.get(purchase_order=held)

    with django_capture_on_commit_callbacks(execute=True):
        credit.credit_hold_reject(
            hold=hold, actor=finance, note="Over the credit limit; ask for a prepayment"
        )
    report = services.dispatch(connection=erp_connection, connector=finance_connector)

    assert report.claimed == 0
    held.refresh_from_db()
    assert held.status == Status.REJECTED
    hold.refresh_from_db()
    assert (hold.status, hold.decided_by, hold.decision_note) == (
        CreditHold.Status.REJECTED,
        finance,
        "Over the credit limit; ask for a prepayment",
    )
    assert not SyncJob.objects.exists()
    assert _sales(erp_admin, "PO-HARBOR-NO") == []
    assert _party(erp_admin, HARBOR)["credit_amount"] == Decimal("0")
    assert [(mail.subject, mail.to) for mail in mailoutbox] == [
        ("Order PO-HARBOR-NO was refused by finance", [held.buyer.email])
    ]


def test_a_limit_lowered_in_the_erp_applies_to_the_next_order_after_a_customer_pull(
    erp_connection: ErpConnection, connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    _pull_catalogue(erp_connection, connector)
    harbor = Company.objects.get(erp_customer_code=HARBOR)
    party = _party(erp_admin, HARBOR)

    # The ERP's credit controller lowers the limit (only admin and group_credit_limit may write it).
    erp_admin.model("party.party", "write", [party["id"]], {"credit_limit_amount": Decimal("3000")})
    assert _party(erp_admin, HARBOR)["credit_limit_amount"] == Decimal("3000")
    _pull(erp_connection, connector, CUSTOMERS)

    account = CreditAccount.objects.get(company=harbor)
    assert account.credit_limit == Decimal("3000.00")
    assert SyncEvent.objects.filter(
        target_id=str(harbor.pk), message__contains="credit limit 10000.00 → 3000"
    ).exists()
    order = _submit(harbor, "PO-HARBOR-5K", 5_000)  # would have fitted the old limit

    assert order.status == Status.CREDIT_HOLD
    hold = CreditHold.objects.get(purchase_order=order)
    assert (hold.reasons, hold.credit_limit, hold.exposure) == (
        [CreditHold.Reason.OVER_LIMIT],
        Decimal("3000.00"),
        Decimal("0.00"),
    )
    assert not SyncJob.objects.exists()


def test_a_credit_hold_category_in_the_erp_stops_submits_until_it_is_removed(
    erp_connection: ErpConnection, connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    _pull_catalogue(erp_connection, connector)
    harbor = Company.objects.get(erp_customer_code=HARBOR)
    party = _party(erp_admin, HARBOR)
    categories = erp_admin.model(
        "party.category", "search_read", [["name", "=", "Credit hold"]], 0, 1, None, ["id"]
    )
    (category,) = (
        [row["id"] for row in categories]
        if categories
        else erp_admin.model("party.category", "create", [{"name": "Credit hold"}])
    )

    # The ERP's credit controller puts the customer on hold.
    erp_admin.model("party.party", "write", [party["id"]], {"categories": [["add", [category]]]})
    _pull(erp_connection, connector, CUSTOMERS)

    harbor.refresh_from_db()
    assert (harbor.status, harbor.hold_source) == (Company.Status.ON_HOLD, Company.HoldSource.ERP)
    draft = _draft(harbor, "PO-HARBOR-HOLD", 100)
    with pytest.raises(PurchaseOrderError) as refused:
        purchase_order_submit_and_route(purchase_order=draft, actor=draft.buyer)
    assert "Credit hold" in harbor.hold_reason
    assert refused.value.message == (
        f"Harbor Point Builders Inc. is on hold and cannot submit orders: {harbor.hold_reason}."
    )
    draft.refresh_from_db()
    assert (draft.status, draft.total_amount) == (Status.DRAFT, None)
    assert not CreditHold.objects.exists()
    assert not SyncJob.objects.exists()

    # ...and lifts it: the next pull lifts it in the portal, and the same draft goes through.
    erp_admin.model("party.party", "write", [party["id"]], {"categories": [["remove", [category]]]})
    _pull(erp_connection, connector, CUSTOMERS)

    harbor.refresh_from_db()
    assert (harbor.status, harbor.hold_source, harbor.hold_reason) == (
        Company.Status.ACTIVE,
        Company.HoldSource.NONE,
        "",
    )
    order = purchase_order_submit_and_route(purchase_order=draft, actor=draft.buyer)
    assert order.status == Status.APPROVED


def test_a_sale_the_erp_refuses_for_credit_goes_to_finance_and_a_release_gets_it_confirmed(
    erp_connection: ErpConnection,
    connector: TrytonConnector,
    finance_connector: TrytonConnector,
    erp_admin: TrytonClient,
    finance: AbstractUser,
) -> None:
    from apps.erp.connectors.base import AddressRecord, OrderLinePush, OrderPush

    _pull_catalogue(erp_connection, connector)
    harbor = Company.objects.get(erp_customer_code=HARBOR)
    product = Product.objects.get(sku=SKU)
    # A phone order entered in the ERP takes most of Harbor's 10,000: the portal cannot see it.
    (phone,) = connector.push_orders(
        [
            OrderPush(
                reference="PHONE-1",
                customer_erp_id=harbor.erp_party_id,
                ship_to=AddressRecord(
                    harbor.ship_to_addresses.filter(erp_address_id__gt="").first().erp_address_id,  # type: ignore[union-attr]
                    "",
                    "",
                    "",
                    "",
                    "",
                ),
                lines=[OrderLinePush(product.erp_id, _quantity_for(8_000), product.list_price)],
            )
        ]
    )
    assert phone.error == ""
    order = _submit(harbor, "PO-HARBOR-LATE", 4_000)
    assert order.status == Status.APPROVED  # within the credit the portal knows of

    report = services.dispatch(connection=erp_connection, connector=finance_connector)

    order.refresh_from_db()
    assert (report.claimed, report.failed) == (1, 1)
    assert order.status == Status.CREDIT_HOLD
    hold = CreditHold.objects.get(purchase_order=order)
    assert hold.reasons == [CreditHold.Reason.ERP_REFUSED]

    credit.credit_hold_release(hold=hold, actor=finance, note="Known customer; the phone order ships later")
    job = _push_job(order)
    assert job.status == SyncJob.Status.PENDING  # the same job, armed again
    report = services.dispatch(connection=erp_connection, connector=finance_connector)

    order.refresh_from_db()
    assert (report.claimed, report.succeeded) == (1, 1)
    assert order.status == Status.ACCEPTED
    (sale,) = _sales(erp_admin, "PO-HARBOR-LATE")
    assert sale["state"] in ("confirmed", "processing")
    assert _warnings(erp_admin) == []
