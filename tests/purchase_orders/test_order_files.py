"""Order files as spreadsheets really export them: headers by name, Excel's quirks, .xlsx, bounds."""

from __future__ import annotations

import io
import time
import zipfile
from decimal import Decimal

import pytest
from openpyxl import Workbook

from apps.core import csvio
from apps.purchase_orders.lines import MAX_UPLOAD_BYTES, parse_csv, parse_upload, report_summarise

D = Decimal


def _lines(parsed) -> list[tuple[int, str, Decimal, str]]:  # type: ignore[no-untyped-def]
    return [(line.line, line.sku, line.quantity, line.note) for line in parsed.lines]


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        "Item #;Qty Ordered\nBOLT;4\n",
        "Part Number,Quantity\nBOLT,4\n",
        "SKU,Description,Qty,Price\nBOLT,Hex bolt M8,4,0.50\n",
        "Qty,SKU\n4,BOLT\n",
        "Artikelnummer;Bezeichnung;Menge;Bemerkung\nBOLT;Sechskantschraube;4;\n",
        "Référence;Désignation;Quantité\nBOLT;Vis;4\n",
        "Cantidad\tArtículo\n4\tBOLT\n",
        "Item,Item No.,Qty\nHex bolt,BOLT,4\n",  # "Item No." names the SKU; "Item" is a description
    ],
)
def test_header_rows_are_recognised_by_name_in_any_order(content: str) -> None:
    # Before: these were refused ("unknown SKU ITEM #") or read the wrong column as the quantity.
    parsed = parse_csv(content.encode("utf-8-sig"))

    assert (parsed.error, parsed.report) == ("", [])
    assert [(line.sku, line.quantity) for line in parsed.lines] == [("BOLT", D("4"))]


def test_note_column_by_name_and_extra_columns_ignored() -> None:
    content = "Pos;Menge;Kommentar;Artikel-Nr.;Preis\n1;2,5;Tor 4;bolt;0,50\n2;1.000;;NUT;0,25\n"

    parsed = parse_csv(content.encode("cp1252"))

    # The 2,5 beside it says the comma is the decimal mark here, so 1.000 is a thousand.
    assert _lines(parsed) == [(2, "BOLT", D("2.5"), "Tor 4"), (3, "NUT", D("1000"), "")]


def test_excel_csv_with_bom_semicolons_and_a_sep_line() -> None:
    content = '\ufeffsep=;\r\nSKU;Quantity;Note\r\nBOLT;1.000,00;\r\nNUT;3,5;"Dock 4; back"\r\n'.encode()

    parsed = parse_csv(content)

    assert _lines(parsed) == [(3, "BOLT", D("1000"), ""), (4, "NUT", D("3.5"), "Dock 4; back")]


def test_utf16_unicode_text_with_tabs() -> None:
    # Excel's "Unicode text": UTF-16 little-endian with a byte-order mark, tab separated.
    content = "SKU\tQty\tNote\r\nBOLT\t1,000.5\tCafé\r\nNUT\t12\t\r\n".encode("utf-16")
    assert content[:2] == b"\xff\xfe"

    parsed = parse_upload(content)

    assert _lines(parsed) == [(2, "BOLT", D("1000.5"), "Café"), (3, "NUT", D("12"), "")]


def test_csv_thousands_with_a_decimal_part_are_read() -> None:
    # Before: "1,000.00" was refused as not a number.
    parsed = parse_csv(b'sku,qty\nBOLT,"1,000.00"\nNUT,"2,500,000"\n')

    assert _lines(parsed) == [(2, "BOLT", D("1000"), ""), (3, "NUT", D("2500000"), "")]


def test_unquoted_thousands_in_a_comma_file_are_never_read_as_one() -> None:
    # Before: BOLT,1,000 was quantity 1 with the note "000".
    parsed = parse_csv(b"BOLT,1,000\nNUT,7\n")

    assert _lines(parsed) == [(2, "NUT", D("7"), "")]
    assert [entry.message for entry in parsed.report] == [
        "BOLT: quantity '1,000' is ambiguous: the comma could separate thousands or decimals; write 1000 or 1"
    ]


def test_a_real_xlsx_with_a_german_header_and_swapped_columns() -> None:
    content = _xlsx(
        [
            ["Menge", "Artikelnummer", "Bezeichnung", "Bemerkung"],
            [4, "bolt", "Sechskantschraube", "Tor 2"],
            [2.5, 10045, "Mutter", None],
            [1.125, "WASHER", None, None],  # a number cell is exact: no separator rule applies
            [None, None, None, None],
            ["1.000", "NUT", None, None],  # text in a cell: the rule applies (no evidence: refused)
            [-1, "SCREW", None, None],
        ]
    )

    parsed = parse_upload(content)

    assert _lines(parsed) == [
        (2, "BOLT", D("4"), "Tor 2"),
        (3, "10045", D("2.5"), ""),
        (4, "WASHER", D("1.125"), ""),
    ]
    assert [(entry.line, entry.message) for entry in parsed.report] == [
        (
            6,
            "NUT: quantity '1.000' is ambiguous: the point could separate thousands or decimals; "
            "write 1000 or 1",
        ),
        (7, "SCREW: quantity -1 must be more than zero"),
    ]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"PK\x03\x04" + b"\x00" * 100, "neither text nor an Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel file (.xls)"),
        (bytes(range(256)) * 8, "not text"),
        (b"Artikelnummer;Bezeichnung\nBOLT;Schraube\n", "The header row has no quantity column"),
    ],
)
def test_whole_file_refusals_say_why_and_read_nothing(content: bytes, error: str) -> None:
    parsed = parse_upload(content)

    assert (parsed.lines, parsed.report) == ([], [])
    assert error in parsed.error


def test_a_damaged_xlsx_is_a_whole_file_refusal() -> None:
    good = _xlsx([["SKU", "Qty"], ["BOLT", 1]])
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data[: len(data) // 2] if "worksheets" in item.filename else data)

    parsed = parse_upload(damaged.getvalue())

    assert parsed.lines == []
    assert "cannot be read" in parsed.error


def test_an_xlsx_that_unpacks_huge_is_refused_before_it_is_read() -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", "0" * (csvio.MAX_UNPACKED_BYTES + 1))

    parsed = parse_upload(bomb.getvalue())

    assert len(bomb.getvalue()) < MAX_UPLOAD_BYTES
    assert "unpacks to more than 50 MB" in parsed.error


def test_a_file_over_the_cap_is_refused_unread() -> None:
    parsed = parse_upload(b"x" * (MAX_UPLOAD_BYTES + 1))

    assert parsed.error == (
        "The file is 5.0 MB; files up to 5 MB are read: split it, or leave out columns other than SKU, "
        "quantity and note."
    )


def test_a_huge_bad_file_yields_a_small_report_quickly() -> None:
    # Just under the cap: ~330,000 lines, none good. Before: one refusal per line (270,942 of them).
    row = b"NOPE-SKU;abc;x\n"
    content = row * ((MAX_UPLOAD_BYTES - 100) // len(row))

    started = time.perf_counter()
    parsed = parse_upload(content)
    report = report_summarise(parsed.report)
    elapsed = time.perf_counter() - started

    assert parsed.lines == []
    assert [(entry.where, entry.count) for entry in report] == [
        ("Lines 1-5,000", 5_000),
        ("Lines 5,001 and after", 100_001),
    ]
    assert report[0].message == (
        "5,000 lines: quantity not a number, e.g. line 1: NOPE-SKU: quantity 'abc' is not a number"
    )
    assert elapsed < 5  # about 0.5 s here


def test_refusals_of_one_kind_are_summed_up_in_ranges_and_the_rest_kept() -> None:
    rows = (
        ["SKU,Qty"]
        + [f"S{n},x" for n in range(2, 12)]
        + ["S12,-1", "S13,2"]
        + [f"T{n},y" for n in range(14, 17)]
    )

    parsed = parse_csv("\n".join(rows).encode())
    report = report_summarise(parsed.report)

    assert [(entry.where, entry.count) for entry in report] == [
        ("Lines 2-11, 14-16", 13),
        ("Line 12", 1),
    ]
    assert [line.sku for line in parsed.lines] == ["S13"]
