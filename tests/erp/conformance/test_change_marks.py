"""Change detection (issue 12, freshness): ``Connector.changed_streams`` answers, per pull stream, whether
a record changed strictly after the stream's high-water mark, by the same rules as the stream's pull, so
the watcher pulls only what moved. Written against the ``Connector`` protocol and the driver only."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from apps.erp.connectors.base import Cursor, OrderLinePush, OrderPush
from tests.erp.conformance.conftest import ConformanceErp
from tests.erp.conformance.test_connector_conformance import PULLS

STREAMS = ["customers", "products", "stock", "orders", "invoices"]


def _high_water(erp: ConformanceErp, stream: str, since: datetime | None = None) -> datetime | None:
    """Where the engine's cursor stands after a whole run from ``since``: the newest change stamp read."""
    fetch = PULLS[stream](erp.connector)
    page = fetch(Cursor(since=since), 100_000)
    assert not page.has_more
    stamps: list[datetime] = [r.changed_at for r in page.records if getattr(r, "changed_at", None)]
    return max(stamps, default=since)


def _order(erp: ConformanceErp, reference: str) -> str:
    customer = erp.driver.customers()[0]
    (result,) = erp.connector.push_orders(
        [
            OrderPush(
                reference=reference,
                customer_erp_id=customer.erp_id,
                ship_to=customer.ship_to,
                lines=[OrderLinePush(erp.driver.product_erp_id(), Decimal(2), Decimal("1.5000"))],
            )
        ]
    )
    assert not result.error
    return result.erp_id


def test_streams_with_records_and_no_cursor_have_changed(erp: ConformanceErp) -> None:
    invoice_of = _order(erp, "PO-MARK-0")
    erp.driver.invoice_order(invoice_of)
    assert erp.connector.changed_streams(dict.fromkeys(STREAMS)) == set(STREAMS)


def test_nothing_changed_after_the_high_water_mark(erp: ConformanceErp) -> None:
    erp.driver.invoice_order(_order(erp, "PO-MARK-1"))
    marks: dict[str, Any] = {stream: _high_water(erp, stream) for stream in STREAMS if stream != "stock"}
    assert all(marks.values())
    assert erp.connector.changed_streams(marks) == set()


def test_unknown_streams_are_left_out(erp: ConformanceErp) -> None:
    assert erp.connector.changed_streams({"no-such-stream": None}) == set()


@pytest.mark.parametrize("stream", ["customers", "products", "orders", "invoices"])
def test_an_edit_moves_only_its_stream(erp: ConformanceErp, stream: str) -> None:
    order = _order(erp, "PO-MARK-2")
    invoice = erp.driver.invoice_order(order)
    marks: dict[str, Any] = {name: _high_water(erp, name) for name in STREAMS if name != "stock"}
    target = {
        "customers": erp.driver.customers()[1].erp_id,
        "products": erp.driver.product_erp_id(),
        "orders": order,
        "invoices": invoice,
    }[stream]

    erp.driver.touch(stream, [target])  # type: ignore[arg-type]

    assert stream in erp.connector.changed_streams(marks)
    assert erp.connector.changed_streams({stream: _high_water(erp, stream, marks[stream])}) == set()


def test_a_credit_limit_a_shipment_and_a_posted_invoice_are_changes(erp: ConformanceErp) -> None:
    order = _order(erp, "PO-MARK-3")
    customer = erp.driver.customers()[2].erp_id
    marks: dict[str, Any] = {name: _high_water(erp, name) for name in ("customers", "orders", "invoices")}

    erp.driver.set_credit_limit(customer, Decimal("12345"))
    assert erp.connector.changed_streams(marks) == {"customers"}

    erp.driver.ship_order(order)
    assert "orders" in erp.connector.changed_streams(marks)

    erp.driver.invoice_order(order)
    assert {"orders", "invoices"} <= erp.connector.changed_streams(marks)


def test_a_stock_move_is_a_change(erp: ConformanceErp) -> None:
    product = erp.driver.product_erp_id()
    first = PULLS["stock"](erp.connector)(Cursor(), 100_000)  # the snapshot
    assert first.records
    erp.driver.move_stock(product, Decimal(1))
    mark = _high_water(erp, "stock", datetime(2000, 1, 1).astimezone())
    assert erp.connector.changed_streams({"stock": mark}) == set()
    erp.driver.move_stock(product, Decimal(2))
    assert erp.connector.changed_streams({"stock": mark}) == {"stock"}
