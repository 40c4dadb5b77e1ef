from __future__ import annotations

import pytest

from apps.core import csvio


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sku,qty\n", ","),
        ("sku;qty;note\n", ";"),
        ("sku\tqty\n", "\t"),
        ('sku;"a, b, c";x\n', ";"),  # commas inside quotes do not count
        ("\n\nsku;qty\n", ";"),  # leading blank lines
        ("sku\n", ","),
    ],
)
def test_separator_is_the_one_the_first_line_uses(text: str, expected: str) -> None:
    assert csvio.separator(text) == expected


def test_decode_refuses_binary_and_reads_both_encodings() -> None:
    assert csvio.decode("\ufeffsku".encode()) == "sku"
    assert csvio.decode("Caf\xe9".encode("cp1252")) == "Café"
    with pytest.raises(csvio.CsvError, match="not text"):
        csvio.decode(b"\x00\x01\x02")


def test_quoted_fields_keep_separators_and_line_breaks() -> None:
    assert list(csvio.rows('a;"b;c";"d\r\ne"\r\n')) == [["a", "b;c", "d\r\ne"]]


def test_quantities_never_show_in_exponent_form() -> None:
    from decimal import Decimal

    from apps.core.templatetags.portal import qty

    assert [qty(Decimal(v)) for v in ("10.0000", "2.5000", "0.1250", "100")] == ["10", "2.5", "0.125", "100"]


def test_a_semicolon_line_with_decimal_commas_is_semicolon_separated() -> None:
    # Before: one semicolon and one comma tied, and the comma won: "BOLT;1,5" split into "BOLT;1" and "5".
    assert csvio.separator("BOLT;1,5\n") == ";"
    assert csvio.separator("BOLT\t1,5;x\n") == "\t"


def test_excel_sep_line_names_the_separator_and_is_not_a_row() -> None:
    separator, rows = csvio.numbered_rows('sep=,\r\nSKU,Qty\r\nBOLT,"2;5"\r\n')

    assert separator == ","
    assert list(rows) == [(2, ["SKU", "Qty"]), (3, ["BOLT", "2;5"])]


def test_rows_are_numbered_by_the_line_they_start_on() -> None:
    _, rows = csvio.numbered_rows('a;"two\nlines"\nb;c\n')

    assert list(rows) == [(1, ["a", "two\nlines"]), (3, ["b", "c"])]


def test_utf16_with_a_byte_order_mark_is_read() -> None:
    assert csvio.decode("SKU\tQty\r\nCafé\t1".encode("utf-16")) == "SKU\tQty\r\nCafé\t1"
    assert csvio.decode(b"\xfe\xff" + "SKU".encode("utf-16-be")) == "SKU"


def test_control_characters_mean_binary() -> None:
    with pytest.raises(csvio.CsvError, match="not text"):
        csvio.decode(bytes(range(1, 32)) * 10)


def test_a_giant_cell_is_a_clear_error_not_a_crash() -> None:
    _, rows = csvio.numbered_rows("a;" + "x" * (csvio.MAX_FIELD_CHARACTERS + 1) + "\n")

    with pytest.raises(csvio.CsvError, match="Line 1 has a cell of more than 100,000 characters"):
        list(rows)
