"""Order CSV exports neutralise formula injection (OWASP "CSV Injection"): text starting with = + - @, a tab
or a carriage return is prefixed with a single quote; numbers the portal computed stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client

from apps.accounts.models import Role
from apps.core.csvexport import neutralise, safe_writer
from apps.purchase_orders import services as orders
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.services import purchase_order_submit_and_route
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory, UserFactory
from tests.catalog.factories import ProductFactory

EVIL = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


@pytest.mark.parametrize("text", EVIL)
def test_text_that_would_start_a_formula_is_quoted(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("PO-1", "PO-1"),
        ("", ""),
        (None, ""),
        ("-5", "'-5"),  # typed text that looks like a number is still text
        (Decimal("-5.00"), Decimal("-5.00")),  # a number we computed stays a number
        (3, 3),
        (True, "True"),
    ],
)
def test_safe_text_and_our_numbers_are_written_as_they_are(value: object, written: object) -> None:
    assert neutralise(value) == written


def test_the_writer_keeps_cells_apart_and_quotes_quotes() -> None:
    out = io.StringIO()
    safe_writer(out).writerow(['=1,2"3', "ok", Decimal("-1.50")])

    assert out.getvalue() == '"\'=1,2""3",ok,-1.50\r\n'


@pytest.fixture
def evil_order(db: None) -> dict:
    company = CompanyFactory()
    buyer = MembershipFactory(
        company=company, role=Role.BUYER, user=UserFactory(email="-buyer@x.example")
    ).user
    order = orders.purchase_order_draft_get(company=company, buyer=buyer)
    order.customer_po_number, order.ship_to = "=cmd|' /C calc'!A0", ShipToAddressFactory(company=company)
    order.save()
    ProductFactory(sku="SKU-1", name="@evil name", list_price=Decimal("2.0000"))
    orders.purchase_order_lines_add(purchase_order=order, lines=[ParsedLine(1, "SKU-1", Decimal(3), "+note")])
    order = purchase_order_submit_and_route(purchase_order=order, actor=buyer)
    client = Client()
    client.force_login(buyer)
    return {"order": order, "client": client}


def _rows(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_order_export_neutralises_po_number_name_and_note(evil_order: dict) -> None:
    rows = _rows(evil_order["client"].get(f"/orders/{evil_order['order'].pk}/export.csv"))

    assert rows[1] == ["'=cmd|' /C calc'!A0", "SKU-1", "'@evil name", "3", "2.0000", "list", "6.00", "'+note"]


def test_the_order_list_export_neutralises_po_number_and_buyer(evil_order: dict) -> None:
    rows = _rows(evil_order["client"].get("/orders/export.csv"))

    assert rows[1][0] == "'=cmd|' /C calc'!A0"
    assert rows[1][3] == "'-buyer@x.example"
    assert rows[1][4:6] == ["1", "6.00"]


def test_every_csv_writer_in_the_portal_goes_through_the_neutraliser() -> None:
    from pathlib import Path

    apps = Path(__file__).resolve().parents[2] / "apps"
    writers = [
        path.relative_to(apps).as_posix()
        for path in apps.rglob("*.py")
        if "csv.writer(" in path.read_text() or "csv.DictWriter(" in path.read_text()
    ]
    # The one raw writer is wrapped by both order exports; the neutraliser's own module builds its writer.
    assert sorted(writers) == ["core/csvexport.py", "purchase_orders/views.py"]
