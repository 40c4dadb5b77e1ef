"""CSV files the portal writes for people to open in a spreadsheet, safe from formula injection.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3``), so a PO number or
a note typed by anyone could run in the reader's spreadsheet. As OWASP's "CSV Injection" page advises, such a
cell is prefixed with a single quote (``'=1+2``): the spreadsheet shows it as text, and a human reader still
sees what was typed. The ``csv`` module quotes cells holding the separator, quotes or line ends, and doubles
embedded quotes, so one cell never spills into the next.

Numbers are a deliberate exception: OWASP escapes every cell starting with those characters, but a number
the portal computed itself (an ``int`` or ``Decimal`` amount, a count) is written as it is, so ``-5.00``
stays a number a spreadsheet can add up; it cannot carry a formula. Any text, including text that looks
like a number (``"-5"`` typed in a note), is escaped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """The value to write in one cell: numbers as they are, text that would start a formula quoted."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """``csv.writer`` that neutralises every cell it writes."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow([neutralise(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_writer(stream: Any, **options: Any) -> SafeWriter:
    return SafeWriter(csv.writer(stream, **options))
