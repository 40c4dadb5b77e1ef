"""Order lines from what buyers paste or upload: every input line gets an answer, good lines are kept.

Quantities are read by one rule for thousand separators and decimal marks: see
``apps.purchase_orders.quantities``.

Splitting a line into SKU, quantity and note: a quick-order line is split on tabs, else semicolons,
else commas, else spaces; digit groups of exactly three right after the quantity belong to it, so
``SKU-1,1,000`` is the SKU and ``1,000`` (which the rule above then reads or refuses), never 1 with
the note "000". The same holds in a comma-separated file when the row has more cells than its header
(or has no header): an unquoted ``1,000`` split by the commas.

Order files: the header row (the first non-blank one) is recognised by name in any column order (see
``SKU_NAMES``, ``QUANTITY_NAMES``, ``NOTE_NAMES``), other columns are ignored; a file without a
header row is read as SKU, quantity, note. CSV/text (UTF-8, Windows-1252, UTF-16 with a byte-order
mark; ``;`` tab ``,`` separators; Excel's ``sep=`` line) and ``.xlsx`` (the active sheet) are read;
see ``apps.core.csvio``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from apps.core import csvio
from apps.core.csvio import Cell
from apps.purchase_orders.quantities import (
    MISSING,
    NOT_A_NUMBER,
    QuantityError,
    decimal_mark_evidence,
    parse_quantity,
    quantity_checked,
)

MAX_LINES = 5_000
MAX_UPLOAD_BYTES = csvio.MAX_FILE_BYTES
# How quantities are read, for every form that takes pasted or uploaded lines.
QUANTITY_HELP = (
    "Quantities: 1000, 2.5 or 2,5; thousands may be grouped as 1,000.50 / 1.000,50 / 1 000. "
    "A lone 1,000 or 1.000 is read by the other quantities beside it, or refused as ambiguous."
)
PAST_LIMIT_COUNTED = 100_000  # lines past the limit are counted up to this many, then only "and after"
SUMMARY_AFTER = 3  # more refusals of one kind than this are shown as one entry with line ranges
SUMMARY_RANGES = 8  # line ranges listed in such an entry before "and N more"
NOTE_LENGTH = 200

# What a refusal is about, so that many alike read as one entry ("unknown SKU: lines 3-900").
NO_SKU = "SKU missing"
PAST_LIMIT = "past the line limit"


# Header names, compared lower-case without accents and punctuation ("Item #" reads "item no",
# "Art.-Nr." reads "art nr", "Stück" reads "stuck"). Most specific first: when two columns match, the
# one whose name comes first here wins ("Item #" over "Item", which is often a description).
SKU_NAMES = (
    "sku",
    "sku no",
    "sku number",
    "sku code",
    "item no",
    "item number",
    "item code",
    "item id",
    "part no",
    "part number",
    "part nr",
    "product no",
    "product number",
    "product code",
    "product id",
    "article no",
    "article number",
    "article code",
    "catalog no",
    "catalog number",
    "catalogue number",
    "cat no",
    "material no",
    "material number",
    "artikelnummer",
    "artikel nr",
    "artikelnr",
    "art nr",
    "materialnummer",
    "teilenummer",
    "code article",
    "numero d article",
    "reference article",
    "codigo articulo",
    "codigo de articulo",
    "codice articolo",
    "artikelcode",
    "onderdeelnummer",
    "indeks",
    "item",
    "part",
    "product",
    "article",
    "artikel",
    "reference",
    "ref",
    "referencia",
    "riferimento",
    "articulo",
    "articolo",
    "material",
    "code",
    "codigo",
    "codice",
)
QUANTITY_NAMES = (
    "quantity",
    "qty",
    "qty ordered",
    "quantity ordered",
    "order qty",
    "order quantity",
    "ordered qty",
    "qty to order",
    "units",
    "pieces",
    "pcs",
    "menge",
    "bestellmenge",
    "anzahl",
    "stuck",
    "stuckzahl",
    "stk",
    "quantite",
    "qte",
    "cantidad",
    "cant",
    "quantita",
    "qta",
    "aantal",
    "hoeveelheid",
    "ilosc",
)
NOTE_NAMES = (
    "note",
    "notes",
    "comment",
    "comments",
    "remark",
    "remarks",
    "memo",
    "line note",
    "bemerkung",
    "kommentar",
    "notiz",
    "hinweis",
    "commentaire",
    "remarque",
    "comentario",
    "nota",
    "observaciones",
    "commento",
    "opmerking",
    "notitie",
    "uwagi",
)


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
    kind: str = ""  # what a refusal is about: many of one kind are summed up as one entry
    label: str = ""  # where, when more than one line: "Lines 3-9, 12"
    count: int = 1  # input lines this entry answers

    @property
    def where(self) -> str:
        return self.label or f"Line {self.line}"


@dataclass(frozen=True)
class Parsed:
    lines: list[ParsedLine]
    report: list[LineReport]
    error: str = ""  # the whole input was refused (unreadable file, no quantity column): nothing read


# --- Quantities in cells -------------------------------------------------------------------------------

_GROUP = re.compile(r"\d{3}([.,]\d+)?")  # a cell that may continue a number: "000", "000.50"


def _cell_quantity(cell: Cell, decimal_mark: str | None) -> Decimal:
    if isinstance(cell, Decimal):  # a number cell of a spreadsheet: exact
        if not cell.is_finite():
            raise QuantityError(f"quantity {cell} is not a number", NOT_A_NUMBER)
        return quantity_checked(cell, f"{cell:f}")
    return parse_quantity(cell, decimal_mark=decimal_mark)


# --- Rows ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Columns:
    sku: int
    quantity: int
    note: int | None
    width: int  # cells in the header row; 0 without one


_HEADERLESS = _Columns(0, 1, 2, 0)


def header_name(cell: Cell) -> str:
    """A header cell as compared with the names: lower case, no accents, ``#`` as "no", no punctuation."""
    text = unicodedata.normalize("NFKD", str(cell)).encode("ascii", "ignore").decode().lower()
    text = text.replace("#", " no ").replace("n°", " no ").replace("nº", " no ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _best(names: Sequence[str], cells: Sequence[str]) -> int | None:
    ranked = [(names.index(cell), index) for index, cell in enumerate(cells) if cell in names]
    return min(ranked)[1] if ranked else None


def _header(cells: Sequence[Cell]) -> _Columns | str | None:
    """The columns a header row names; None when the row is not a header; a message when it is one
    without a SKU or quantity column."""
    names = [header_name(cell) for cell in cells]
    sku, quantity = _best(SKU_NAMES, names), _best(QUANTITY_NAMES, names)
    if sku is None and quantity is None:
        return None
    if sku is None or quantity is None:
        if len(cells) > 1 and _is_number(cells[1]):
            return None  # a line of data whose SKU happens to read like a column name ("ITEM", 4)
        missing, examples = ("SKU", "SKU, Item #, Part number or Artikelnummer")
        if quantity is None:
            missing, examples = ("quantity", "Quantity, Qty, Qty ordered or Menge")
        return (
            f"The header row has no {missing} column: name it {examples}, "
            "or leave the header row out and put SKU, quantity and note in that order."
        )
    others = [index for index in range(len(names)) if index not in (sku, quantity)]
    note = _best(NOTE_NAMES, [names[index] if index in others else "" for index in range(len(names))])
    return _Columns(sku, quantity, note, len(cells))


def _is_number(cell: Cell) -> bool:
    if isinstance(cell, Decimal):
        return True
    try:
        parse_quantity(cell, decimal_mark=".")
    except QuantityError as exc:
        return exc.kind not in (NOT_A_NUMBER, MISSING)
    return True


def _join_groups(cells: list[Cell], index: int, mark: str) -> list[Cell]:
    """Cells split inside a number by the separator (``1``, ``000``) joined back into one cell."""
    end = index + 1
    while (
        end < len(cells) and isinstance(cell := cells[end], str) and (group := _GROUP.fullmatch(cell.strip()))
    ):
        end += 1
        if group.group(1):
            break  # a decimal tail ends the number
    if end == index + 1 or not isinstance(cells[index], str) or not str(cells[index]).strip().isdigit():
        return cells
    joined = mark.join(str(cell).strip() for cell in cells[index:end])
    return [*cells[:index], joined, *cells[end:]]


def _summary_label(lines: Sequence[int]) -> str:
    ranges: list[tuple[int, int]] = []
    for line in lines:
        if ranges and line == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], line)
        else:
            ranges.append((line, line))
    shown = [f"{a:,}" if a == b else f"{a:,}-{b:,}" for a, b in ranges[:SUMMARY_RANGES]]
    more = f" and {len(ranges) - SUMMARY_RANGES:,} more" if len(ranges) > SUMMARY_RANGES else ""
    return f"Lines {', '.join(shown)}{more}"


def report_summarise(report: Iterable[LineReport], *, accepted_too: bool = False) -> list[LineReport]:
    """The report in line order, with refusals of one kind beyond ``SUMMARY_AFTER`` as one entry that
    names their line ranges, its count and the first one's message: a huge bad file reads in a few lines.
    ``accepted_too``: lines added or merged are summed up the same way (a large upload's report)."""
    entries = sorted(report, key=lambda entry: entry.line)

    def alike_key(entry: LineReport) -> tuple[bool, str] | None:
        if entry.kind and entry.count == 1 and (accepted_too or not entry.ok):
            return (entry.ok, entry.kind)
        return None

    by_kind: dict[tuple[bool, str], list[LineReport]] = {}
    for entry in entries:
        if (key := alike_key(entry)) is not None:
            by_kind.setdefault(key, []).append(entry)
    summarised: dict[tuple[bool, str], LineReport] = {}
    for (ok, kind), alike in by_kind.items():
        if len(alike) > SUMMARY_AFTER:
            first = alike[0]
            summarised[(ok, kind)] = LineReport(
                first.line,
                ok,
                f"{len(alike):,} lines: {kind}, e.g. line {first.line}: {first.message}",
                kind,
                _summary_label([entry.line for entry in alike]),
                len(alike),
            )
    result: list[LineReport] = []
    for entry in entries:
        key = alike_key(entry)
        summary = summarised.get(key) if key is not None else None
        if summary is None:
            result.append(entry)
        elif summary.line == entry.line:
            result.append(summary)
    return result


def _parse_rows(
    rows: Iterable[tuple[int, list[Cell], str]], *, decimal_mark: str | None, note_rest: bool = False
) -> Parsed:
    """Rows of (line number, cells, what they were split on) to lines: header by name, at most
    ``MAX_LINES`` lines, each refusal with its reason.

    Cells split on commas or spaces may hold an unquoted ``1,000`` / ``1 000`` across two cells.
    ``note_rest``: without a header, the note is the rest of the line (quick order)."""
    columns: _Columns | None = None
    taken: list[tuple[int, list[Cell], str]] = []
    report: list[LineReport] = []
    rows = iter(rows)
    for number, raw_cells, separator in rows:
        cells = raw_cells
        if not any(cell.strip() if isinstance(cell, str) else True for cell in cells):
            continue  # blank line
        if columns is None:
            found = _header(cells)
            if isinstance(found, str):
                return Parsed([], [], error=found)
            columns = found or _HEADERLESS
            if found is not None:
                continue
        if len(taken) >= MAX_LINES:
            report.append(_past_limit(number, rows))
            break
        if separator in (",", " ") and (not columns.width or len(cells) > columns.width):
            cells = _join_groups(cells, columns.quantity, separator)
        taken.append((number, cells, separator))
    columns = columns or _HEADERLESS
    if decimal_mark is None:
        quantities = [_cell(cells, columns.quantity) for _, cells, _ in taken]
        decimal_mark = decimal_mark_evidence(text for text in quantities if isinstance(text, str))
    lines: list[ParsedLine] = []
    for number, cells, separator in taken:
        sku = _cell_text(_cell(cells, columns.sku)).strip().strip('"').strip().upper()
        if not sku:
            report.append(LineReport(number, False, "the SKU is missing", NO_SKU))
            continue
        cell = _cell(cells, columns.quantity)
        if isinstance(cell, str) and not cell.strip():
            report.append(LineReport(number, False, f"{sku}: the quantity is missing", MISSING))
            continue
        try:
            quantity = _cell_quantity(cell, decimal_mark)
        except QuantityError as exc:
            report.append(LineReport(number, False, f"{sku}: {exc}", exc.kind))
            continue
        if columns.note is None:
            note = ""
        elif note_rest and not columns.width:
            note = (separator or " ").join(_cell_text(cell) for cell in cells[columns.note :]).strip()
        else:
            note = _cell_text(_cell(cells, columns.note)).strip()
        lines.append(ParsedLine(number, sku, quantity, note[:NOTE_LENGTH]))
    return Parsed(lines, report)


def _cells(texts: Iterable[str]) -> list[Cell]:
    return [*texts]


def _past_limit(first: int, rest: Iterator[tuple[int, list[Cell], str]]) -> LineReport:
    """One entry for the lines past the limit, counted (up to ``PAST_LIMIT_COUNTED`` more), not read."""
    last, count = first, 1
    for number, cells, _ in rest:
        if any(cell.strip() if isinstance(cell, str) else True for cell in cells):
            last, count = number, count + 1
            if count > PAST_LIMIT_COUNTED:
                label = f"Lines {first:,} and after"
                message = (
                    f"more than {PAST_LIMIT_COUNTED:,} lines past the {MAX_LINES:,}-line limit were not read"
                )
                return LineReport(first, False, message, PAST_LIMIT, label, count)
    label = f"Lines {first:,}-{last:,}" if count > 1 else ""
    message = (
        f"{count:,} line(s) past the {MAX_LINES:,}-line limit were not read: upload them in another file"
    )
    return LineReport(first, False, message, PAST_LIMIT, label, count)


def _cell(cells: Sequence[Cell], index: int) -> Cell:
    return cells[index] if index < len(cells) else ""


def _cell_text(cell: Cell) -> str:
    if isinstance(cell, Decimal):  # a SKU a spreadsheet stored as a number: 10045, not 10045.0
        return f"{cell.normalize():f}" if cell.is_finite() else str(cell)
    return cell


# --- Entry points -------------------------------------------------------------------------------------------


def parse_csv(content: bytes, *, decimal_mark: str | None = None) -> Parsed:
    """SKU, quantity and an optional note per row of a text file; see the module docstring for headers.

    Copes with a byte-order mark, Windows-1252, UTF-16, comma / semicolon / tab separators, Excel's
    ``sep=`` line, Windows line ends, blank lines and quoted fields (a note with the separator inside)."""
    try:
        text = csvio.decode(content)
        separator, rows = csvio.numbered_rows(text)
        return _parse_rows(
            ((number, _cells(cells), separator) for number, cells in rows), decimal_mark=decimal_mark
        )
    except csvio.CsvError as exc:
        return Parsed([], [], error=exc.message)


def parse_upload(content: bytes, *, decimal_mark: str | None = None) -> Parsed:
    """An uploaded order file: ``.xlsx`` or CSV/text, told apart by content (not by the file's name)."""
    if len(content) > MAX_UPLOAD_BYTES:
        return Parsed([], [], error=csvio.too_large_message(len(content)))
    try:
        if csvio.file_kind(content) == "xlsx":
            rows = ((number, cells, "") for number, cells in csvio.sheet_rows(content))
            return _parse_rows(rows, decimal_mark=decimal_mark)
    except csvio.CsvError as exc:
        return Parsed([], [], error=exc.message)
    return parse_csv(content, decimal_mark=decimal_mark)


def parse_paste(text: str, *, decimal_mark: str | None = None) -> Parsed:
    """Quick order: one "SKU quantity [note]" per line, split on tabs, else semicolons, else commas, else
    spaces; three-digit groups right after the quantity belong to it (``SKU-1,1,000`` → ``1,000``)."""
    rows: list[tuple[int, list[Cell], str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        separator = next((mark for mark in ("\t", ";", ",") if mark in raw), " ")
        cells = _cells(raw.split(separator) if separator != " " else raw.split())
        rows.append((number, cells, separator))
    return _parse_rows(rows, decimal_mark=decimal_mark, note_rest=True)
