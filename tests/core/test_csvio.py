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
