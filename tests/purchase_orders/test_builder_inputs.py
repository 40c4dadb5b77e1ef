"""What buyers type and upload into the draft: a clear answer every time, never a 500, never a quantity
they did not type; refusals change nothing."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from openpyxl import Workbook
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.core.exceptions import ApplicationError
from apps.purchase_orders import services
from apps.purchase_orders.lines import MAX_UPLOAD_BYTES
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory
from tests.catalog.factories import ProductFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
D = Decimal


@pytest.fixture
def shop(db: None) -> dict:
    company = CompanyFactory()
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    client = Client()
    client.force_login(buyer)
    return {
        "company": company,
        "buyer": buyer,
        "client": client,
        "ship_to": ShipToAddressFactory(company=company, is_default=True),
        "bolt": ProductFactory(sku="BOLT", name="Hex bolt", list_price=D("0.5000")),
        "press": ProductFactory(sku="PRESS", name="Hydraulic press", list_price=D("950000.0000")),
    }


def _draft(shop: dict) -> PurchaseOrder:
    return services.purchase_order_draft_get(company=shop["company"], buyer=shop["buyer"])


def _lines(shop: dict) -> dict[str, Decimal]:
    return {line.product.sku: line.quantity for line in _draft(shop).lines.select_related("product")}


def _flash(html: str) -> list[str]:
    return [part.split(">", 1)[1].split("</div>", 1)[0] for part in html.split('class="flash ')[1:]]


# --- The quantity box of a draft line -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("NaN", "BOLT: quantity &#x27;NaN&#x27; is not a number."),
        ("Infinity", "BOLT: quantity &#x27;Infinity&#x27; is not a number."),
        ("1e30", "BOLT: quantity 1e30 is too large."),
        ("1e20", "BOLT: quantity 1e20 is too large."),
        ("abc", "BOLT: quantity &#x27;abc&#x27; is not a number."),  # was "must be more than zero"
        ("-3", "BOLT: quantity -3 must be more than zero."),
        ("", "BOLT: the quantity is missing."),
    ],
)
def test_the_quantity_box_refuses_with_the_reason_and_keeps_the_line(
    shop: dict, typed: str, message: str
) -> None:
    line = _draft(shop).lines.create(product=shop["bolt"], quantity=D("4"))

    response = shop["client"].post(f"/orders/draft/lines/{line.pk}/", {"quantity": typed}, **HTMX)

    assert response.status_code == 200  # was a 500 for NaN, Infinity and 1e30
    assert _flash(response.content.decode()) == [message]
    assert _lines(shop) == {"BOLT": D("4")}
    assert shop["client"].get("/orders/draft/").status_code == 200  # 1e20 was saved, then every read failed


def test_the_quantity_box_takes_a_number_field_value(shop: dict) -> None:
    line = _draft(shop).lines.create(product=shop["bolt"], quantity=D("4"))

    shop["client"].post(f"/orders/draft/lines/{line.pk}/", {"quantity": "1.000"}, **HTMX)
    assert _lines(shop) == {"BOLT": D("1")}  # a number field sends a decimal point
    shop["client"].post(f"/orders/draft/lines/{line.pk}/", {"quantity": "1500"}, **HTMX)
    assert _lines(shop) == {"BOLT": D("1500")}


def test_the_catalog_add_box_reads_a_number_field_and_refuses_nan(shop: dict) -> None:
    response = shop["client"].post("/orders/draft/add/", {"sku": "BOLT", "quantity": "NaN"}, **HTMX)

    assert "BOLT: quantity &#x27;NaN&#x27; is not a number" in response.content.decode()
    assert _lines(shop) == {}
    shop["client"].post("/orders/draft/add/", {"sku": "bolt", "quantity": "1,500"}, **HTMX)
    assert _lines(shop) == {"BOLT": D("1500")}


def test_merging_past_the_quantity_column_is_refused_not_a_500(shop: dict) -> None:
    shop["client"].post("/orders/draft/quick/", {"lines": "BOLT 999999999999"}, **HTMX)

    html = shop["client"].post("/orders/draft/quick/", {"lines": "BOLT 5"}, **HTMX).content.decode()

    assert "BOLT: quantity 1,000,000,000,004 is too large (at most 999,999,999,999)" in html
    assert _lines(shop) == {"BOLT": D("999999999999")}


# --- Quick order --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("paste", ["BOLT\t1,000", "BOLT,1,000", "BOLT 1.000"])
def test_quick_order_never_adds_1_for_a_thousand(shop: dict, paste: str) -> None:
    response = shop["client"].post("/orders/draft/quick/", {"lines": paste}, **HTMX)

    html = response.content.decode()
    assert "is ambiguous" in html
    assert "write 1000 or 1" in html
    assert _flash(html) == ["Nothing added: 1 line(s) refused; see the report below."]
    assert _lines(shop) == {}  # was {"BOLT": 1}


def test_quick_order_reads_a_thousand_when_the_paste_shows_its_decimal_mark(shop: dict) -> None:
    shop["client"].post("/orders/draft/quick/", {"lines": "BOLT,1,000\nPRESS,2.0"}, **HTMX)

    assert _lines(shop) == {"BOLT": D("1000"), "PRESS": D("2")}


# --- Order files --------------------------------------------------------------------------------------------


def _upload(shop: dict, name: str, content: bytes) -> str:
    response = shop["client"].post("/orders/draft/csv/", {"file": SimpleUploadedFile(name, content)}, **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_an_xlsx_with_a_german_header_is_added(shop: dict) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Menge", "Artikelnummer", "Bemerkung"])
    sheet.append([1000, "BOLT", "Tor 2"])
    sheet.append([3.0, "press", None])
    buffer = io.BytesIO()
    workbook.save(buffer)

    html = _upload(shop, "bestellung.xlsx", buffer.getvalue())

    assert _flash(html) == ["2 line(s) added, 0 merged, 0 refused."]
    assert _lines(shop) == {"BOLT": D("1000"), "PRESS": D("3")}


def test_excel_csv_and_unicode_text_exports_are_added(shop: dict) -> None:
    _upload(shop, "order.csv", "\ufeffsep=;\r\nItem #;Qty Ordered\r\nBOLT;1.000,00\r\n".encode())
    _upload(shop, "order.txt", "Qty\tPart Number\r\n2\tPRESS\r\n".encode("utf-16"))

    assert _lines(shop) == {"BOLT": D("1000"), "PRESS": D("2")}


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("order.xlsx", b"PK\x03\x04" + b"\x00" * 200, "neither text nor an Excel workbook"),
        ("junk.bin", bytes(range(256)) * 40, "not text"),
        ("order.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200, "old Excel file (.xls)"),
    ],
)
def test_a_whole_file_refusal_is_an_error_not_a_success(
    shop: dict, name: str, content: bytes, reason: str
) -> None:
    _draft(shop).lines.create(product=shop["bolt"], quantity=D("4"))

    html = _upload(shop, name, content)

    [flash] = _flash(html)
    assert flash.startswith(f"{name}: ")
    assert reason in flash
    assert 'class="flash flash-error"' in html  # was a green "0 line(s) added, 0 merged, 1 refused"
    assert "Line 0" not in html
    assert _lines(shop) == {"BOLT": D("4")}


def test_an_upload_over_the_cap_is_refused_with_the_limit(shop: dict) -> None:
    html = _upload(shop, "huge.csv", b"BOLT;1\n" * (MAX_UPLOAD_BYTES // 7 + 1))

    assert _flash(html) == [
        "The file is 5.0 MB; files up to 5 MB are read: split it, or leave out columns other than SKU, "
        "quantity and note."
    ]
    assert _lines(shop) == {}


def test_a_large_bad_file_gets_a_small_report(shop: dict) -> None:
    content = b"NOPE;abc\n" * (4 * 1024 * 1024 // 9)  # 4 MB, 466,033 bad lines

    html = _upload(shop, "bad.csv", content)

    assert len(html) < 20_000  # before: one <li> per line (a 29 MB card for a 20 MB file)
    assert "Lines 1-5,000: 5,000 lines: quantity not a number, e.g. line 1: NOPE: quantity" in html
    assert "Lines 5,001 and after: more than 100,000 lines past the 5,000-line limit were not read" in html
    assert _lines(shop) == {}


def test_a_large_upload_reports_alike_lines_as_ranges(shop: dict, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    for n in range(250):
        ProductFactory(sku=f"P{n:04d}")
    content = (
        "SKU,Qty\n" + "".join(f"P{n:04d},2\n" for n in range(250)) + "".join(f"X{n},1\n" for n in range(50))
    )

    with django_capture_on_commit_callbacks(execute=True):
        _upload(shop, "big.csv", content.encode())

    job = _draft(shop).line_imports.get()
    html = shop["client"].get(f"/orders/draft/imports/{job.pk}/", **HTMX).content.decode()
    assert "Lines 2-251: 250 lines: added, e.g. line 2: P0000: 2 added" in html
    assert "Lines 252-301: 50 lines: unknown SKU, e.g. line 252: X0: unknown SKU" in html
    assert html.count("<li ") == 2


# --- Submitting ---------------------------------------------------------------------------------------------


def _ready(shop: dict, **fields: object) -> PurchaseOrder:
    order = _draft(shop)
    PurchaseOrder.objects.filter(pk=order.pk).update(
        customer_po_number="PO-1", ship_to=shop["ship_to"], **fields
    )
    return order


def test_submitting_amounts_past_the_amount_column_is_a_clear_refusal(shop: dict) -> None:
    order = _ready(shop)
    order.lines.create(product=shop["press"], quantity=D("999999999999"))

    response = shop["client"].post("/orders/draft/submit/", follow=True)

    assert response.status_code == 200  # was a 500 (InvalidOperation)
    [flash] = _flash(response.content.decode())
    assert flash.startswith("A line may come to at most 99,999,999,999,999.99 USD; PRESS (")
    order.refresh_from_db()
    assert (order.status, order.total_amount) == (PurchaseOrder.Status.DRAFT, None)
    assert list(order.lines.values_list("line_amount", "unit_price")) == [(None, None)]


def test_a_total_past_the_amount_column_is_refused_by_the_service(shop: dict) -> None:
    order = _ready(shop)
    for n in range(2):
        order.lines.create(
            product=ProductFactory(sku=f"BIG{n}", list_price=D("60000")), quantity=D("1000000000")
        )

    with pytest.raises(services.OrderAmountTooLarge, match="An order may come to at most") as refused:
        services.purchase_order_submit(purchase_order=order, actor=shop["buyer"])

    assert isinstance(refused.value, ApplicationError)
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.DRAFT
    assert not PurchaseOrderLine.objects.filter(purchase_order=order, line_amount__isnull=False).exists()


def test_the_api_refuses_a_huge_quantity_of_the_dearest_product(shop: dict) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=shop['buyer']).key}")
    body = {"po_number": "PO-API", "lines": [{"sku": "PRESS", "quantity": "999999999999"}]}

    response = client.post("/api/v1/purchase-orders/", body, format="json")

    assert response.status_code == 400  # was a 500
    assert not PurchaseOrder.objects.filter(customer_po_number="PO-API").exists()


def test_a_requested_date_in_the_past_is_a_field_error(shop: dict) -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)

    html = (
        shop["client"]
        .post(
            "/orders/draft/header/",
            {
                "customer_po_number": "PO-1",
                "ship_to": shop["ship_to"].pk,
                "requested_date": yesterday.isoformat(),
            },
            **HTMX,
        )
        .content.decode()
    )

    assert "Choose today or a later date." in html
    assert _draft(shop).requested_date is None
    shop["client"].post(
        "/orders/draft/header/",
        {"customer_po_number": "PO-1", "ship_to": shop["ship_to"].pk, "requested_date": timezone.localdate()},
        **HTMX,
    )
    assert _draft(shop).requested_date == timezone.localdate()


def test_submitting_a_draft_with_a_past_requested_date_is_refused(shop: dict) -> None:
    order = _ready(shop, requested_date=timezone.localdate() - datetime.timedelta(days=3))
    order.lines.create(product=shop["bolt"], quantity=D("4"))

    with pytest.raises(ApplicationError, match="choose a requested date of today or later"):
        services.purchase_order_submit(purchase_order=order, actor=shop["buyer"])

    order.refresh_from_db()
    assert (order.status, order.submitted_at) == (PurchaseOrder.Status.DRAFT, None)
