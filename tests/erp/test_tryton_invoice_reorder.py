"""Reorder from an invoice against a real Tryton 8.2: the portal's order becomes a sale, accounting posts
its invoice, the invoice pull mirrors its lines, and the buyer reorders them line by line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.test import Client

from apps.accounts.models import Role
from apps.catalog.models import StockLevel
from apps.credit.erp import INVOICES
from apps.credit.models import Invoice
from apps.erp import inbound
from apps.erp.connectors.base import AddressRecord, Cursor, OrderLinePush, OrderPush
from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.models import ErpConnection
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from tests.accounts.factories import CompanyFactory, MembershipFactory
from tests.catalog.factories import ProductFactory

D = Decimal


def _one(client: TrytonClient, model: str, domain: list[Any], fields: list[str]) -> dict[str, Any]:
    (row,) = client.model(model, "search_read", domain, 0, 1, None, fields)
    return row


def test_a_posted_tryton_invoice_is_reordered_line_by_line(
    connector: TrytonConnector, erp_admin: TrytonClient, erp_connection: ErpConnection
) -> None:
    acme = _one(erp_admin, "party.party", [["code", "=", "CUST-001"]], ["addresses"])
    screw = _one(erp_admin, "product.product", [["code", "=", "SKU-00001"]], ["name"])
    other = _one(erp_admin, "product.product", [["code", "=", "SKU-00002"]], ["name"])
    company = CompanyFactory(erp_party_id=str(acme["id"]))
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    # The portal's catalog has SKU-00001 (dearer today) but not SKU-00002.
    bolt = ProductFactory(erp_id=str(screw["id"]), sku="SKU-00001", list_price=D("0.1500"))
    StockLevel.objects.create(product=bolt, quantity=D("4"), as_of="2026-12-07T08:00:00Z")
    address = AddressRecord(str(acme["addresses"][0]), "", "", "", "", "US")
    (pushed,) = connector.push_orders(
        [
            OrderPush(
                "PO-REORDER-1",
                str(acme["id"]),
                address,
                [
                    OrderLinePush(str(screw["id"]), D(10), D("0.1300")),
                    OrderLinePush(str(other["id"]), D(3), D("2.0000")),
                ],
            )
        ]
    )
    (sale,) = erp_admin.model("sale.sale", "read", [int(pushed.erp_id)], ["invoices"])
    (invoice_id,) = sale["invoices"]
    erp_admin.model("account.invoice", "post", [invoice_id])  # accounting posts the sale's invoice

    records = connector.pull_invoices(Cursor(), 100).records
    inbound.apply_page(connection=erp_connection, stream=INVOICES, records=records)

    invoice = Invoice.objects.get(erp_id=str(invoice_id))
    assert [
        (line.sku, line.product_id, line.quantity, line.unit_price, line.amount)
        for line in invoice.lines.all()
    ] == [
        ("SKU-00001", bolt.pk, D("10"), D("0.1300"), D("1.30")),
        ("SKU-00002", None, D("3"), D("2.0000"), D("6.00")),
    ]
    client = Client()
    client.force_login(buyer)
    shown = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'data-position="2" data-sku="SKU-00002"' in shown

    response = client.post(f"/invoices/{invoice.pk}/reorder/")
    page = client.get(response["Location"]).content.decode()

    assert [
        (line.product.sku, line.quantity)
        for line in PurchaseOrderLine.objects.filter(
            purchase_order__buyer=buyer, purchase_order__status=PurchaseOrder.Status.DRAFT
        ).select_related("product")
    ] == [("SKU-00001", D("10"))]
    assert 'data-line="1" data-kind="added"' in page
    assert "price up from 0.1300 to 0.1500 USD" in page
    assert "short of the quantity" in page
    assert 'data-line="2" data-kind="not in the catalog"' in page
    assert "SKU-00002: no such product in the catalog" in page
