"""The order-state pull and the order push meet, forced deterministically against the real Tryton: the pull
reads the sale the push has just created before the push records it (and the other way round). Either
order ends the same: one sale, the job succeeded, the order accepted, each stage in its history once."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Role
from apps.catalog.erp import PRODUCTS
from apps.erp import inbound, services
from apps.erp.connectors.base import OrderPush, OrderPushResult
from apps.erp.models import ErpConnection, SyncJob
from apps.purchase_orders import services as orders
from apps.purchase_orders.erp import ORDER_STATES
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route
from tests.accounts.factories import MembershipFactory

Status = PurchaseOrder.Status


def _pull(connection: ErpConnection, connector, stream: str) -> None:  # type: ignore[no-untyped-def]
    report = inbound.pull_stream(connection=connection, stream=stream, connector=connector)
    assert report.error == ""


def _approved_order(number: str) -> tuple[PurchaseOrder, object]:
    acme = Company.objects.get(erp_customer_code="CUST-001")
    buyer = MembershipFactory(company=acme, role=Role.BUYER).user
    order = orders.purchase_order_draft_get(company=acme, buyer=buyer)
    order.customer_po_number = number
    order.ship_to = acme.ship_to_addresses.filter(erp_address_id__gt="").first()
    order.save()
    orders.purchase_order_lines_add(
        purchase_order=order, lines=[ParsedLine(1, "SKU-00003", Decimal("2"), "")]
    )
    order = purchase_order_submit_and_route(purchase_order=order, actor=buyer)
    assert order.status == Status.APPROVED
    return order, buyer


def _sales(erp_admin, reference: str) -> list[dict]:  # type: ignore[no-untyped-def]
    domain = [["reference", "=", reference]]
    return erp_admin.model("sale.sale", "search_read", domain, 0, None, None, ["state"])


@pytest.fixture
def pulled(erp_connection, connector) -> None:  # type: ignore[no-untyped-def]
    for stream in (CUSTOMERS, PRODUCTS):
        _pull(erp_connection, connector, stream)


def test_the_state_pull_overtaking_the_push_is_a_no_op_for_the_push(
    erp_connection, connector, erp_admin, pulled, monkeypatch
) -> None:
    order, _ = _approved_order("PO-RACE-PULL-FIRST")
    real_push = connector.push_orders

    def push_then_pull(pushes: Sequence[OrderPush]) -> list[OrderPushResult]:
        results = real_push(pushes)
        # The ERP has the confirmed sale; the pull runs before the push records it.
        _pull(erp_connection, connector, ORDER_STATES)
        assert PurchaseOrder.objects.get(pk=order.pk).status == Status.ACCEPTED
        return results

    monkeypatch.setattr(connector, "push_orders", push_then_pull)
    report = services.dispatch(connection=erp_connection, connector=connector)

    job = SyncJob.objects.get(kind="order.push")
    order.refresh_from_db()
    assert (report.succeeded, report.retrying, report.failed) == (1, 0, 0)
    assert job.status == SyncJob.Status.SUCCEEDED
    assert job.attempts == 1
    assert order.status == Status.ACCEPTED
    assert order.erp_reference
    assert [change.to_status for change in order.status_changes.all()] == [
        "submitted",
        "approved",
        "sent_to_erp",
        "accepted",
    ]
    assert len(_sales(erp_admin, "PO-RACE-PULL-FIRST")) == 1  # one sale, confirmed or processing


def test_the_push_recorded_first_then_the_pull_changes_nothing_more(
    erp_connection, connector, erp_admin, pulled
) -> None:
    order, _ = _approved_order("PO-RACE-PUSH-FIRST")

    services.dispatch(connection=erp_connection, connector=connector)
    _pull(erp_connection, connector, ORDER_STATES)
    # A stale state report (the ERP's "sent" after the order is accepted) is old news, not an error.
    orders.purchase_order_erp_update(purchase_order=order, to=Status.SENT_TO_ERP, note="late report")

    order.refresh_from_db()
    assert order.status == Status.ACCEPTED
    assert [change.to_status for change in order.status_changes.all()].count("accepted") == 1
    assert SyncJob.objects.get(kind="order.push").status == SyncJob.Status.SUCCEEDED
    assert len(_sales(erp_admin, "PO-RACE-PUSH-FIRST")) == 1


def test_an_order_withdrawn_while_its_push_was_under_way_stays_withdrawn_and_its_sale_is_followed_up(
    erp_connection, connector, erp_admin, pulled, monkeypatch
) -> None:
    order, buyer = _approved_order("PO-RACE-CANCEL")
    real_push = connector.push_orders

    def push_then_cancel(pushes: Sequence[OrderPush]) -> list[OrderPushResult]:
        results = real_push(pushes)
        orders.purchase_order_cancel(purchase_order=order, actor=buyer, note="not needed")
        return results

    monkeypatch.setattr(connector, "push_orders", push_then_cancel)
    services.dispatch(connection=erp_connection, connector=connector)
    monkeypatch.undo()

    order.refresh_from_db()
    push = SyncJob.objects.get(kind="order.push")
    assert push.status == SyncJob.Status.SUCCEEDED
    assert order.status == Status.CANCELLED
    cancel = SyncJob.objects.get(kind="order.cancel", target_id=str(order.pk))
    # The sale was confirmed before the buyer withdrew: the cancel job says so, for a person, on the monitor.
    services.dispatch(connection=erp_connection, connector=connector)
    cancel.refresh_from_db()
    assert cancel.status == SyncJob.Status.FAILED
    assert "cancel it in the ERP" in cancel.last_error
    assert len(_sales(erp_admin, "PO-RACE-CANCEL")) == 1
