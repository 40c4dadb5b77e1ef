"""Reading the table files people really have: CSV/text in any of the usual encodings and separators,
Excel's "Unicode text" (UTF-16, tab separated) and ``.xlsx`` workbooks, within fixed bounds."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeAlias

from apps.core.exceptions import ApplicationError

SEPARATORS = ("\t", ";", ",")  # in this order of preference when a line has more than one
MAX_FILE_BYTES = 5 * 1024 * 1024  # an order file of 5,000 lines is well under 1 MB
MAX_UNPACKED_BYTES = 50 * 1024 * 1024  # what an .xlsx may hold unzipped (a "zip bomb" is refused)
MAX_COLUMNS = 50  # cells read per spreadsheet row; an order needs three
MAX_FIELD_CHARACTERS = 100_000  # one CSV cell; csv's own limit raises an error past 131,072
CONTROL_SHARE = 0.01  # text with more control characters than this is binary

# A cell of a table: text as written, or an exact number a spreadsheet stored as a number.
Cell: TypeAlias = str | Decimal

_HINT = re.compile(r"\"?sep=(.)\1*\"?", re.IGNORECASE)  # Excel's first line naming the separator
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_NOT_READABLE = (
    "The file is neither text nor an Excel workbook we can read: save it from your spreadsheet as "
    "CSV (UTF-8) or Excel workbook (.xlsx)."
)


class CsvError(ApplicationError):
    pass


def too_large_message(size: int) -> str:
    return (
        f"The file is {size / 1024 / 1024:.1f} MB; files up to {MAX_FILE_BYTES // 1024 // 1024} MB are read: "
        "split it, or leave out columns other than SKU, quantity and note."
    )


def decode(content: bytes) -> str:
    """UTF-16 with a byte-order mark (Excel's "Unicode text"), UTF-8 (with or without one), else
    Windows-1252 as spreadsheets on Windows write; anything with control characters is not text."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text and len(_CONTROL.findall(text[:65536])) <= CONTROL_SHARE * min(
            len(text), 65536
        ):
            return text.removeprefix("\ufeff")
    raise CsvError("The file is not text (UTF-8, UTF-16 or Windows-1252 expected).")


def separator(text: str) -> str:
    """The separator of the first non-blank line: tab if it has one, else semicolon, else comma, outside
    quotes (a semicolon file's decimal commas do not count, nor a tab file's notes with commas)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    unquoted = "".join(part for index, part in enumerate(first.split('"')) if index % 2 == 0)
    return next((candidate for candidate in SEPARATORS if candidate in unquoted), ",")


def numbered_rows(text: str) -> tuple[str, Iterator[tuple[int, list[str]]]]:
    """The separator and the rows of cells with the line each starts on. Excel's ``sep=;`` first line
    names the separator and is not a row; quoted fields may hold the separator or line breaks."""
    first, _, rest = text.partition("\n")
    hint = _HINT.fullmatch(first.rstrip("\r\n"))
    if hint:
        delimiter, body, offset = hint.group(1), rest, 1
    else:
        delimiter, body, offset = separator(text), text, 0
    return delimiter, _numbered(body, delimiter, offset)


def _numbered(body: str, delimiter: str, offset: int) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter, quotechar='"')
    start = 1
    try:
        for cells in reader:
            if any(len(cell) > MAX_FIELD_CHARACTERS for cell in cells):
                raise CsvError(
                    f"Line {start + offset:,} has a cell of more than {MAX_FIELD_CHARACTERS:,} characters."
                )
            yield start + offset, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CsvError(f"Line {start + offset:,} cannot be read as CSV ({exc}).") from exc


def rows(text: str) -> Iterator[list[str]]:
    """Rows of cells; quoted fields may hold the separator or line breaks; Windows line ends are fine."""
    return (cells for _, cells in numbered_rows(text)[1])


def file_kind(content: bytes) -> str:
    """ "xlsx" or "text"; CsvError for other spreadsheets and archives, with what to do instead."""
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise CsvError("This is an old Excel file (.xls): save it as Excel workbook (.xlsx) or as CSV.")
    if not content.startswith(b"PK\x03\x04"):
        return "text"
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CsvError(_NOT_READABLE) from exc
    if "xl/workbook.xml" not in names:
        raise CsvError(_NOT_READABLE)
    if unpacked > MAX_UNPACKED_BYTES:
        raise CsvError(
            f"The workbook unpacks to more than {MAX_UNPACKED_BYTES // 1024 // 1024} MB: save the order "
            "lines alone (SKU, quantity, note) as a new workbook or as CSV."
        )
    return "xlsx"


def sheet_rows(content: bytes) -> Iterator[tuple[int, list[Cell]]]:
    """Rows of the workbook's active sheet, read-only and streamed: text as written, numbers exact,
    at most ``MAX_COLUMNS`` cells a row. Call ``file_kind`` first (it bounds the unpacked size)."""
    from openpyxl import load_workbook  # noqa: PLC0415 - heavy, loaded only when a workbook comes in

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise CsvError(
            "The Excel workbook cannot be read (damaged or protected): save it again as .xlsx or as CSV."
        ) from exc
    return _sheet_rows(workbook)


def _sheet_rows(workbook: Any) -> Iterator[tuple[int, list[Cell]]]:
    try:
        sheet = workbook.active or workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            yield number, [_cell(value) for value in values]
    except CsvError:
        raise
    except Exception as exc:  # a damaged sheet part shows only while it is read
        raise CsvError(
            "The Excel workbook cannot be read (damaged): save it again as .xlsx or as CSV."
        ) from exc
    finally:
        workbook.close()


def _cell(value: object) -> Cell:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest text that is this float: 2.5, 0.1, 1e+20
    if isinstance(value, Decimal):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
