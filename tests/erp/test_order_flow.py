"""A portal order end to end against the real Tryton: approved, pushed once at its frozen prices,
accepted, then shipped and invoiced in the ERP and followed in the portal."""

from __future__ import annotations

from decimal import Decimal

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Role
from apps.catalog.erp import PRODUCTS
from apps.catalog.models import Product
from apps.erp import inbound, services
from apps.erp.models import SyncJob
from apps.purchase_orders import services as orders
from apps.purchase_orders.erp import ORDER_STATES
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route
from tests.accounts.factories import MembershipFactory

Status = PurchaseOrder.Status


def _pull(connection, connector, stream: str) -> None:  # type: ignore[no-untyped-def]
    report = inbound.pull_stream(connection=connection, stream=stream, connector=connector)
    assert report.error == ""


def test_order_goes_to_the_erp_once_and_comes_back_shipped_and_invoiced(
    erp_connection, connector, erp_admin
) -> None:
    for stream in (CUSTOMERS, PRODUCTS):
        _pull(erp_connection, connector, stream)
    acme = Company.objects.get(erp_customer_code="CUST-001")
    buyer = MembershipFactory(company=acme, role=Role.BUYER).user
    order = orders.purchase_order_draft_get(company=acme, buyer=buyer)
    order.customer_po_number = "PO-FLOW-1"
    order.ship_to = acme.ship_to_addresses.filter(erp_address_id__gt="").first()
    order.save()
    orders.purchase_order_lines_add(
        purchase_order=order,
        lines=[ParsedLine(1, "SKU-00001", Decimal("5"), ""), ParsedLine(2, "SKU-00002", Decimal("3"), "")],
    )
    order = purchase_order_submit_and_route(purchase_order=order, actor=buyer)
    assert order.status == Status.APPROVED
    frozen = {line.product.erp_id: line.unit_price for line in order.lines.select_related("product")}
    # The list price changes after submit: the ERP must still get the frozen price.
    Product.objects.filter(sku="SKU-00001").update(list_price=Decimal("9.9999"))

    report = services.dispatch(connection=erp_connection, connector=connector)
    services.dispatch(connection=erp_connection, connector=connector)

    assert report.succeeded == 1
    order.refresh_from_db()
    assert order.status == Status.ACCEPTED
    assert [change.to_status for change in order.status_changes.all()] == [
        "submitted",
        "approved",
        "sent_to_erp",
        "accepted",
    ]
    party = erp_admin.model("party.party", "search_read", [["code", "=", "CUST-001"]], 0, 1, None, ["id"])[0]
    sales = erp_admin.model(
        "sale.sale",
        "search_read",
        [["reference", "=", "PO-FLOW-1"], ["party", "=", party["id"]]],
        0,
        None,
        None,
        ["number", "state", "lines", "shipments", "invoices"],
    )
    assert len(sales) == 1
    assert order.erp_reference == sales[0]["number"]
    lines = erp_admin.model("sale.line", "read", sales[0]["lines"], ["product", "unit_price", "quantity"])
    assert {str(line["product"]): line["unit_price"] for line in lines} == frozen
    assert SyncJob.objects.get(kind="order.push").status == SyncJob.Status.SUCCEEDED

    # The warehouse ships it and accounting posts the invoice, in the ERP.
    shipments = sales[0]["shipments"]
    erp_admin.model("stock.shipment.out", "assign_try", shipments)
    for button in ("pick", "pack", "do"):
        erp_admin.model("stock.shipment.out", button, shipments)
    _pull(erp_connection, connector, ORDER_STATES)
    order.refresh_from_db()
    assert order.status == Status.SHIPPED

    erp_admin.model("account.invoice", "post", sales[0]["invoices"])
    _pull(erp_connection, connector, ORDER_STATES)
    _pull(erp_connection, connector, ORDER_STATES)  # idempotent: nothing more happens

    order.refresh_from_db()
    assert order.status == Status.INVOICED
    assert [change.to_status for change in order.status_changes.all()][-2:] == ["shipped", "invoiced"]


def test_an_order_cancelled_before_the_push_never_reaches_the_erp(
    erp_connection, connector, erp_admin
) -> None:
    _pull(erp_connection, connector, CUSTOMERS)
    _pull(erp_connection, connector, PRODUCTS)
    acme = Company.objects.get(erp_customer_code="CUST-001")
    buyer = MembershipFactory(company=acme, role=Role.BUYER).user
    order = orders.purchase_order_draft_get(company=acme, buyer=buyer)
    order.customer_po_number = "PO-CANCEL-1"
    order.ship_to = acme.ship_to_addresses.first()
    order.save()
    orders.purchase_order_lines_add(
        purchase_order=order, lines=[ParsedLine(1, "SKU-00001", Decimal("1"), "")]
    )
    order = purchase_order_submit_and_route(purchase_order=order, actor=buyer)
    orders.purchase_order_cancel(purchase_order=order, actor=buyer, note="ordered by mistake")

    report = services.dispatch(connection=erp_connection, connector=connector)

    assert report.succeeded == 1
    assert "nothing sent" in SyncJob.objects.get(kind="order.push").events.first().message
    assert (
        erp_admin.model(
            "sale.sale", "search_read", [["reference", "=", "PO-CANCEL-1"]], 0, None, None, ["id"]
        )
        == []
    )
