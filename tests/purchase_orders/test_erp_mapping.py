from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.erp.connectors.base import OrderStateRecord
from apps.purchase_orders.erp import path_to, stages_not_reached, status_from_erp
from apps.purchase_orders.models import PurchaseOrder

Status = PurchaseOrder.Status


def _record(state: str, shipment: str = "none", invoice: str = "none") -> OrderStateRecord:
    return OrderStateRecord(
        "1", "PO-1", "2", "S1", state, shipment, invoice, datetime(2026, 1, 1, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (_record("quotation"), None),
        (_record("processing", "waiting", "pending"), Status.ACCEPTED),
        (_record("processing", "partially shipped", "pending"), Status.PARTIALLY_SHIPPED),
        (_record("processing", "sent", "pending"), Status.SHIPPED),
        (_record("processing", "sent", "awaiting payment"), Status.INVOICED),
        (_record("done", "sent", "paid"), Status.CLOSED),
        (_record("cancelled"), Status.CANCELLED),
    ],
)
def test_erp_states_mean_portal_statuses(record: OrderStateRecord, expected: Status | None) -> None:
    assert status_from_erp(record) == expected


def test_paths_follow_the_table() -> None:
    assert path_to(Status.SENT_TO_ERP, Status.INVOICED) == [Status.ACCEPTED, Status.SHIPPED, Status.INVOICED]
    assert path_to(Status.ACCEPTED, Status.CLOSED) == [Status.SHIPPED, Status.INVOICED, Status.CLOSED]
    assert path_to(Status.ACCEPTED, Status.PARTIALLY_SHIPPED) == [Status.PARTIALLY_SHIPPED]
    assert path_to(Status.PARTIALLY_SHIPPED, Status.CLOSED) == [
        Status.SHIPPED,
        Status.INVOICED,
        Status.CLOSED,
    ]
    assert path_to(Status.ACCEPTED, Status.CANCELLED) == [Status.CANCELLED]
    assert path_to(Status.CLOSED, Status.CANCELLED) == []
    assert path_to(Status.SHIPPED, Status.SHIPPED) == []


def test_an_order_invoiced_before_it_ships_does_not_claim_a_shipment() -> None:
    record = _record("processing", "waiting", "awaiting payment")

    assert path_to(Status.ACCEPTED, status_from_erp(record), stages_not_reached(record)) == [Status.INVOICED]
