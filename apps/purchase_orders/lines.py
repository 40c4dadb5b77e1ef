"""Order lines from what buyers paste or upload: every input line gets an answer, good lines are kept."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from apps.core import csvio
from apps.core.money import QUANTITY_DECIMAL_PLACES, QUANTITY_MAX_DIGITS

MAX_LINES = 5_000
MAX_QUANTITY = Decimal(10) ** (QUANTITY_MAX_DIGITS - QUANTITY_DECIMAL_PLACES) - 1


@dataclass(frozen=True)
class ParsedLine:
    line: int
    sku: str
    quantity: Decimal
    note: str


@dataclass(frozen=True)
class LineReport:
    line: int
    ok: bool
    message: str


@dataclass(frozen=True)
class Parsed:
    lines: list[ParsedLine]
    report: list[LineReport]


def parse_quantity(raw: str) -> Decimal:
    text = raw.strip().replace(" ", "").replace("\u00a0", "")
    if not text:
        raise ValueError("the quantity is missing")
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")  # a decimal comma, as European spreadsheets write it
    try:
        quantity = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"quantity {raw.strip()!r} is not a number") from exc
    if not quantity.is_finite():
        raise ValueError(f"quantity {raw.strip()!r} is not a number")
    if quantity <= 0:
        raise ValueError(f"quantity {raw.strip()} must be more than zero")
    if quantity > MAX_QUANTITY:
        raise ValueError(f"quantity {raw.strip()} is too large")
    if quantity != quantity.quantize(Decimal(1).scaleb(-QUANTITY_DECIMAL_PLACES)):
        raise ValueError(f"quantity {raw.strip()} has more than {QUANTITY_DECIMAL_PLACES} decimals")
    return quantity


def parse_csv(content: bytes) -> Parsed:
    """SKU, quantity and an optional note per row; a header row is recognised and skipped.

    Copes with a byte-order mark, Windows-1252, comma / semicolon / tab separators, Windows line ends,
    blank lines and quoted fields (a note with the separator inside).
    """
    try:
        text = csvio.decode(content)
    except csvio.CsvError as exc:
        return Parsed([], [LineReport(0, False, exc.message)])
    return _parse_rows(enumerate(csvio.rows(text), start=1))


def parse_paste(text: str) -> Parsed:
    """Quick order: one "SKU quantity" per line, separated by spaces, tabs, commas or semicolons."""
    rows: list[tuple[int, list[str]]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        for separator in ("\t", ";", ","):
            if separator in raw:
                rows.append((number, raw.split(separator, 2)))
                break
        else:
            rows.append((number, raw.split(None, 2)))
    return _parse_rows(rows)


def _parse_rows(rows: Iterable[tuple[int, list[str]]]) -> Parsed:
    lines: list[ParsedLine] = []
    report: list[LineReport] = []
    seen = 0
    for number, cells in rows:
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue  # blank line
        if number == 1 and cells[0].lower() in {"sku", "item", "product", "code"}:
            continue  # header
        seen += 1
        if seen > MAX_LINES:
            report.append(
                LineReport(number, False, f"past the {MAX_LINES:,}-line limit: upload it in another file")
            )
            continue
        sku = cells[0].strip('"').upper()
        if not sku:
            report.append(LineReport(number, False, "the SKU is missing"))
            continue
        if len(cells) < 2:
            report.append(LineReport(number, False, f"{sku}: the quantity is missing"))
            continue
        try:
            quantity = parse_quantity(cells[1])
        except ValueError as exc:
            report.append(LineReport(number, False, f"{sku}: {exc}"))
            continue
        note = cells[2][:200] if len(cells) > 2 else ""
        lines.append(ParsedLine(number, sku, quantity, note))
    return Parsed(lines, report)
