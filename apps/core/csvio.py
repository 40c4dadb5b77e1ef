"""Reading the CSV files people really have: any of the usual encodings and separators."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from apps.core.exceptions import ApplicationError

SEPARATORS = (";", "\t", ",")


class CsvError(ApplicationError):
    pass


def decode(content: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252 as spreadsheets on Windows write."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise CsvError("The file is not text (UTF-8 or Windows-1252 expected).")


def separator(text: str) -> str:
    """The separator of the first non-blank line: whichever of ; tab , it uses most (ties: comma)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    unquoted = "".join(part for index, part in enumerate(first.split('"')) if index % 2 == 0)
    counts = {candidate: unquoted.count(candidate) for candidate in SEPARATORS}
    best = max(SEPARATORS, key=lambda candidate: (counts[candidate], candidate == ","))
    return best if counts[best] else ","


def rows(text: str) -> Iterator[list[str]]:
    """Rows of cells; quoted fields may hold the separator or line breaks; Windows line ends are fine."""
    return csv.reader(io.StringIO(text, newline=""), delimiter=separator(text), quotechar='"')
