"""CSV and quick-order input as real files come: each line gets a clear answer, good lines are kept."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.accounts.models import Role
from apps.catalog.services import product_order_rules_update
from apps.purchase_orders import services
from apps.purchase_orders.lines import MAX_LINES, parse_csv, parse_paste
from tests.accounts.factories import MembershipFactory
from tests.catalog.factories import ProductFactory

D = Decimal


def _messages(parsed) -> dict[int, str]:  # type: ignore[no-untyped-def]
    return {entry.line: entry.message for entry in parsed.report}


def test_csv_with_bom_semicolons_crlf_blank_lines_and_quotes() -> None:
    content = (
        "\ufeffSKU;Quantity;Note\r\n"
        "sku-1;12;\r\n"
        "\r\n"
        'SKU-2;3,5;"Dock 4; back door"\r\n'
        "SKU-3;-2;\r\n"
        "SKU-4;1e40;\r\n"
        "SKU-5;0.00001;\r\n"
        "SKU-6;abc;\r\n"
        ";4;\r\n"
        "SKU-7\r\n"
    ).encode()

    parsed = parse_csv(content)

    assert [(line.line, line.sku, line.quantity, line.note) for line in parsed.lines] == [
        (2, "SKU-1", D("12"), ""),
        (4, "SKU-2", D("3.5"), "Dock 4; back door"),
    ]
    assert _messages(parsed) == {
        5: "SKU-3: quantity -2 must be more than zero",
        6: "SKU-4: quantity 1e40 is too large",
        7: "SKU-5: quantity 0.00001 has more than 4 decimals",
        8: "SKU-6: quantity 'abc' is not a number",
        9: "the SKU is missing",
        10: "SKU-7: the quantity is missing",
    }


def test_windows_1252_file_is_read() -> None:
    parsed = parse_csv("SKU,qty,note\nSKU-1,2,Caf\xe9 order\n".encode("cp1252"))

    assert parsed.lines[0].note == "Café order"


def test_ten_thousand_lines_each_get_an_answer_in_one_entry_past_the_limit() -> None:
    content = ("sku,quantity\n" + "".join(f"SKU-{n},1\n" for n in range(10_000))).encode()

    parsed = parse_csv(content)

    assert len(parsed.lines) == MAX_LINES
    # One entry answers the 5,000 lines past the limit (it was one entry per line: 5,000 of them).
    [entry] = parsed.report
    assert (entry.where, entry.count, entry.ok) == ("Lines 5,002-10,001", 5_000, False)
    assert entry.message == (
        "5,000 line(s) past the 5,000-line limit were not read: upload them in another file"
    )


def test_quick_order_paste_accepts_spaces_tabs_and_commas() -> None:
    parsed = parse_paste("SKU-1 4\nSKU-2\t6\nSKU-3, 8\n\nSKU-4 x")

    assert [(line.sku, line.quantity) for line in parsed.lines] == [
        ("SKU-1", D("4")),
        ("SKU-2", D("6")),
        ("SKU-3", D("8")),
    ]
    assert _messages(parsed) == {5: "SKU-4: quantity 'x' is not a number"}


@pytest.fixture
def draft(db: None):
    member = MembershipFactory(role=Role.BUYER)
    return services.purchase_order_draft_get(company=member.company, buyer=member.user)


def test_adding_lines_merges_duplicates_and_refuses_bad_ones_keeping_the_good(draft) -> None:
    ProductFactory(sku="BOLT")
    ProductFactory(sku="OLD", is_active=False)
    product_order_rules_update(
        product=ProductFactory(sku="BOX"), order_minimum=D("6"), order_increment=D("6"), order_maximum=None
    )
    parsed = parse_paste("BOLT 5\nbolt 5\nOLD 1\nNOPE 1\nBOX 7\nBOX 12")

    result = services.purchase_order_lines_add(purchase_order=draft, lines=parsed.lines)

    assert [(entry.line, entry.ok, entry.message) for entry in result.report] == [
        (1, True, "BOLT: 5 added"),
        (2, True, "BOLT: merged, now 10"),
        (3, False, "OLD: no longer sold"),
        (4, False, "NOPE: unknown SKU"),
        (5, False, "BOX: order in steps of 6 from 6 (asked 7)"),
        (6, True, "BOX: 12 added"),
    ]
    assert {line.product.sku: line.quantity for line in draft.lines.select_related("product")} == {
        "BOLT": D("10"),
        "BOX": D("12"),
    }


def test_one_draft_per_buyer(draft) -> None:
    again = services.purchase_order_draft_get(company=draft.company, buyer=draft.buyer)

    assert again.pk == draft.pk
