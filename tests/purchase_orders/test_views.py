from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.accounts.models import Role
from apps.approvals.models import ApprovalRule
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory
from tests.catalog.factories import ProductFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
Status = PurchaseOrder.Status


@pytest.fixture
def shop(db: None) -> dict:
    company = CompanyFactory()
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    ProductFactory(sku="BOLT", name="Hex bolt", list_price=Decimal("0.5000"))
    ProductFactory(sku="NUT", name="Hex nut", list_price=Decimal("0.2500"))
    return {
        "company": company,
        "buyer": buyer,
        "ship_to": ShipToAddressFactory(company=company, is_default=True),
    }


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_quick_order_adds_lines_and_answers_each_line(shop: dict) -> None:
    client = _client(shop["buyer"])

    html = client.post("/orders/draft/quick/", {"lines": "BOLT 100\nNOPE 2\nNUT -1"}, **HTMX).content.decode()

    assert 'id="lines"' in html
    assert "Line 1: BOLT: 100 added" in html
    assert "Line 2: NOPE: unknown SKU" in html
    assert "Line 3: NUT: quantity -1 must be more than zero" in html
    assert 'data-field="estimate">50.00 USD' in html


def test_csv_upload_keeps_the_good_lines(shop: dict) -> None:
    client = _client(shop["buyer"])
    upload = SimpleUploadedFile("order.csv", "\ufeffSKU;Qty;Note\r\nBOLT;4;\r\nNUT;x;\r\n".encode())

    html = client.post("/orders/draft/csv/", {"file": upload}, **HTMX).content.decode()

    assert "BOLT: 4 added" in html
    assert "NUT: quantity &#x27;x&#x27; is not a number" in html


def test_submit_then_detail_list_and_export(shop: dict) -> None:
    client = _client(shop["buyer"])
    client.post("/orders/draft/quick/", {"lines": "BOLT 10\nNUT 4"})
    client.post(
        "/orders/draft/header/",
        {"customer_po_number": "PO-77", "ship_to": shop["ship_to"].pk, "notes": "Dock 2"},
    )

    response = client.post("/orders/draft/submit/", follow=True)

    order = PurchaseOrder.objects.get(customer_po_number="PO-77")
    assert order.status == Status.APPROVED  # no rule applies
    assert order.total_amount == Decimal("6.00")
    html = response.content.decode()
    assert "Order PO-77 submitted" in html
    assert 'hx-trigger="every 5s"' in html  # not final: the page keeps itself current
    listing = client.get("/orders/").content.decode()
    assert 'data-po="PO-77"' in listing
    assert 'hx-trigger="every 5s"' in listing
    export = client.get(f"/orders/{order.pk}/export.csv").content.decode("utf-8-sig")
    assert export.splitlines()[1:] == [
        "PO-77,BOLT,Hex bolt,10,0.5000,list,5.00,",
        "PO-77,NUT,Hex nut,4,0.2500,list,1.00,",
    ]


def test_duplicate_po_number_is_a_field_error(shop: dict) -> None:
    PurchaseOrder.objects.create(
        company=shop["company"], buyer=shop["buyer"], customer_po_number="PO-1", status=Status.APPROVED
    )
    client = _client(shop["buyer"])

    html = client.post(
        "/orders/draft/header/", {"customer_po_number": "PO-1", "ship_to": shop["ship_to"].pk}, **HTMX
    ).content.decode()

    assert "Your company already has an order PO-1." in html


def test_final_orders_stop_polling(shop: dict) -> None:
    order = PurchaseOrder.objects.create(
        company=shop["company"], buyer=shop["buyer"], customer_po_number="PO-9", status=Status.CANCELLED
    )
    client = _client(shop["buyer"])

    assert 'hx-trigger="every 5s"' not in client.get(f"/orders/{order.pk}/").content.decode()
    assert 'hx-trigger="every 5s"' not in client.get("/orders/").content.decode()


def test_approver_approves_from_the_queue(shop: dict) -> None:
    ApprovalRule.objects.create(
        company=shop["company"],
        name="Big",
        condition="total_at_least",
        amount=Decimal("1"),
        approver_role=Role.APPROVER,
    )
    approver = MembershipFactory(company=shop["company"], role=Role.APPROVER).user
    buyer = _client(shop["buyer"])
    buyer.post("/orders/draft/quick/", {"lines": "BOLT 10"})
    buyer.post("/orders/draft/header/", {"customer_po_number": "PO-5", "ship_to": shop["ship_to"].pk})
    buyer.post("/orders/draft/submit/")
    order = PurchaseOrder.objects.get(customer_po_number="PO-5")
    assert order.status == Status.AWAITING_APPROVAL
    client = _client(approver)

    queue = client.get("/approvals/").content.decode()
    request_id = order.approval_requests.get().pk
    assert f'data-approval="{request_id}"' in queue
    client.post(f"/approvals/{request_id}/", {"decision": "approve", "comment": "ok"})

    order.refresh_from_db()
    assert order.status == Status.APPROVED


def test_reorder_copies_lines_into_the_draft(shop: dict) -> None:
    order = PurchaseOrder.objects.create(
        company=shop["company"], buyer=shop["buyer"], customer_po_number="PO-3", status=Status.CLOSED
    )
    order.lines.create(product=ProductFactory(sku="WASHER"), quantity=Decimal("7"))
    client = _client(shop["buyer"])

    client.post(f"/orders/{order.pk}/reorder/")

    draft = PurchaseOrder.objects.get(buyer=shop["buyer"], status=Status.DRAFT)
    assert [(line.product.sku, line.quantity) for line in draft.lines.all()] == [("WASHER", Decimal("7"))]


def test_add_from_the_catalog_answers_out_of_band(shop: dict) -> None:
    client = _client(shop["buyer"])

    catalog = client.get("/catalog/").content.decode()
    response = client.post("/orders/draft/add/", {"sku": "BOLT", "quantity": "3"}, **HTMX)

    assert 'action="/orders/draft/add/"' in catalog
    html = response.content.decode()
    assert 'hx-swap-oob="true"' in html
    assert "BOLT: 3 added" in html
    assert PurchaseOrder.objects.get(buyer=shop["buyer"], status=Status.DRAFT).lines.get().quantity == 3


def test_a_large_csv_is_added_in_the_background_with_progress(
    shop: dict, django_capture_on_commit_callbacks
) -> None:
    products = [ProductFactory(sku=f"P{n:04d}") for n in range(300)]
    content = "sku,quantity\n" + "".join(f"{p.sku},2\n" for p in products) + "NOPE,1\n"
    client = _client(shop["buyer"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/orders/draft/csv/", {"file": SimpleUploadedFile("big.csv", content.encode())}, **HTMX
        )

    assert response["HX-Retarget"] == "#imports"
    draft = PurchaseOrder.objects.get(buyer=shop["buyer"], status=Status.DRAFT)
    job = draft.line_imports.get()
    assert (job.status, job.done, job.total) == ("done", 301, 301)  # the task ran inline in tests
    progress = client.get(f"/orders/draft/imports/{job.pk}/", **HTMX)
    assert progress["HX-Trigger"] == "lines-changed"
    html = progress.content.decode()
    assert "301 of 301 lines" in html
    assert "Line 302: NOPE: unknown SKU" in html
    assert draft.lines.count() == 300


def test_an_empty_quick_order_under_htmx_keeps_the_lines_fragment(shop: dict) -> None:
    client = _client(shop["buyer"])

    response = client.post("/orders/draft/quick/", {"lines": ""}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="lines"')
    assert "Paste at least one line: a SKU and a quantity." in html  # the message, out of band
    assert "<h1>" not in html
