"""The one rule for thousand separators and decimal marks: a quantity is read exactly or refused."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.purchase_orders.lines import parse_paste
from apps.purchase_orders.quantities import (
    AMBIGUOUS,
    MAX_QUANTITY,
    NOT_A_NUMBER,
    QuantityError,
    decimal_mark_evidence,
    parse_quantity,
)

D = Decimal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", D("12")),
        ("2.5", D("2.5")),
        ("3,5", D("3.5")),
        ("0,125", D("0.125")),  # a leading zero is never a thousands group
        ("1,000.00", D("1000")),  # was refused
        ("1.000,50", D("1000.5")),
        ("1,000,000", D("1000000")),
        ("1.000.000", D("1000000")),
        ("1 000", D("1000")),
        ("1\u00a0000,5", D("1000.5")),
        ("1'000.5", D("1000.5")),
        ("1000,000", D("1000")),  # a first group of four digits: the comma is the decimal mark
        ("1e3", D("1000")),
    ],
)
def test_unambiguous_quantities_are_read_exactly(text: str, expected: Decimal) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        (
            "1,000",
            AMBIGUOUS,
            "quantity '1,000' is ambiguous: the comma could separate thousands or decimals; write 1000 or 1",
        ),
        (
            "1.000",
            AMBIGUOUS,
            "quantity '1.000' is ambiguous: the point could separate thousands or decimals; write 1000 or 1",
        ),
        (
            "1,250",
            AMBIGUOUS,
            "quantity '1,250' is ambiguous: the comma could separate thousands or decimals; "
            "write 1250 or 1.25",
        ),
        ("NaN", NOT_A_NUMBER, "quantity 'NaN' is not a number"),
        ("Infinity", NOT_A_NUMBER, "quantity 'Infinity' is not a number"),
        ("-Infinity", NOT_A_NUMBER, "quantity '-Infinity' is not a number"),
        ("1,00,000", NOT_A_NUMBER, "quantity '1,00,000' is not a number"),  # groups of 3 only
        ("12 34", NOT_A_NUMBER, "quantity '12 34' is not a number"),
        ("1,000.000,5", NOT_A_NUMBER, "quantity '1,000.000,5' is not a number"),
        ("1e30", "quantity too large", "quantity 1e30 is too large"),
        ("1e20", "quantity too large", "quantity 1e20 is too large"),
    ],
)
def test_ambiguous_and_broken_quantities_are_refused_with_the_reason(
    text: str, kind: str, message: str
) -> None:
    with pytest.raises(QuantityError) as refused:
        parse_quantity(text)

    assert (refused.value.kind, str(refused.value)) == (kind, message)


def test_the_company_or_form_decimal_mark_decides_the_ambiguous_case() -> None:
    assert parse_quantity("1,000", decimal_mark=".") == D("1000")
    assert parse_quantity("1.000", decimal_mark=".") == D("1")
    assert parse_quantity("1.000", decimal_mark=",") == D("1000")
    assert parse_quantity("1,250", decimal_mark=",") == D("1.25")


def test_evidence_needs_agreement() -> None:
    assert decimal_mark_evidence(["1,000", "2.5"]) == "."
    assert decimal_mark_evidence(["1.000", "2,5"]) == ","
    assert decimal_mark_evidence(["1,000,000"]) == "."  # a repeated comma groups thousands
    assert decimal_mark_evidence(["1,000", "12"]) is None
    assert decimal_mark_evidence(["2.5", "3,5"]) is None  # contradicting: no evidence


@pytest.mark.parametrize(
    "paste",
    ["SKU-00001\t1,000", "SKU-00001,1,000", "SKU-00001 1.000", "SKU-00001;1.000"],
)
def test_quick_order_never_keeps_1_for_a_thousand_written_alone(paste: str) -> None:
    # Before: each of these added 1 (the comma split gave quantity 1 and note "000", or 1,000 read 1.000).
    parsed = parse_paste(paste)

    assert parsed.lines == []
    [entry] = parsed.report
    assert "is ambiguous" in entry.message
    assert "write 1000 or 1" in entry.message


def test_quick_order_reads_a_thousand_from_the_paste_evidence() -> None:
    parsed = parse_paste(
        "SKU-00001,1,000\nSKU-00002,2.5\nSKU-00003 1 000 rush\nSKU-00004,1,000.5,dock 4, gate"
    )

    assert [(line.sku, line.quantity, line.note) for line in parsed.lines] == [
        ("SKU-00001", D("1000"), ""),
        ("SKU-00002", D("2.5"), ""),
        ("SKU-00003", D("1000"), "rush"),
        ("SKU-00004", D("1000.5"), "dock 4, gate"),
    ]
    assert parsed.report == []


def test_german_paste_reads_a_point_as_thousands() -> None:
    parsed = parse_paste("SKU-1;1.000\nSKU-2;2,5")

    assert [line.quantity for line in parsed.lines] == [D("1000"), D("2.5")]


# --- Properties ---------------------------------------------------------------------------------------------

quantities = st.decimals(min_value=D("0.0001"), max_value=MAX_QUANTITY, places=4, allow_nan=False)


def _english(value: Decimal) -> str:
    return f"{value:,f}"


def _german(value: Decimal) -> str:
    return f"{value:,f}".replace(",", "_").replace(".", ",").replace("_", ".")


def _plain(value: Decimal) -> str:
    return f"{value:f}"


def _read(text: str) -> tuple[Decimal | None, str]:
    try:
        return parse_quantity(text), ""
    except QuantityError as exc:
        assert str(exc)  # every refusal says why  # noqa: PT017
        return None, exc.kind


@given(quantities, st.sampled_from([_english, _german, _plain]))
def test_without_a_known_mark_a_quantity_is_read_as_written_or_refused_as_ambiguous(
    value: Decimal, write: Callable[[Decimal], str]
) -> None:
    read, refusal = _read(write(value))

    assert read == value or refusal == AMBIGUOUS  # the only refusal a well-formed quantity can get


@given(quantities, st.sampled_from([_english, _german]))
def test_with_the_writers_own_mark_every_quantity_reads_back(
    value: Decimal, write: Callable[[Decimal], str]
) -> None:
    mark = "." if write is _english else ","

    assert parse_quantity(write(value), decimal_mark=mark) == value


@given(st.text(max_size=30))
def test_any_text_is_a_quantity_or_a_clear_refusal(text: str) -> None:
    quantity, refusal = _read(text)

    assert refusal or (quantity is not None and quantity.is_finite() and D(0) < quantity <= MAX_QUANTITY)
