"""Quantities as people type them: one rule for thousand separators and decimal marks.

Quantities: one rule for thousand separators and decimal marks
-------------------------------------------------------------
A quantity the buyer did not type is never kept: a quantity is read exactly, or its line is refused with
the reason.

- Digits with at most one decimal mark (``.`` or ``,``): ``12``, ``2.5``, ``3,5``, ``0,125``.
  Exponent forms (``1e3``) are read as numbers; ``NaN``, ``Infinity``, text, zero, negatives, more than
  4 decimals and more than 999,999,999,999 are refused.
- A group (thousands) separator is accepted only when the first group has 1 to 3 digits and every group
  after it exactly 3; the other mark, if any, is then the decimal mark: ``1,000.50``, ``1.000,50``,
  ``1,000,000``, ``1.000.000``, ``1 000``, ``1 000,5``, ``1'000.5`` (spaces, non-breaking spaces and
  apostrophes only ever separate groups). Anything else mixing marks is refused as not a number.
- One ``,`` or ``.`` followed by exactly 3 digits after a 1-3 digit number (``1,000``, ``1.250``) is
  ambiguous. It is decided by the company's decimal mark when one is known (the draft's quantity boxes
  are number fields: browsers always send a decimal point), else by the evidence of the same file or
  paste (other quantities that show their decimal mark unambiguously, all agreeing), else the line is
  refused, saying it is ambiguous and how to write it (``1000`` or ``1``). The portal keeps no locale
  per company today, so uploads and pastes go by their own evidence.
- A spreadsheet cell stored as a number (``.xlsx``) is exact and needs no rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from apps.core.money import QUANTITY_DECIMAL_PLACES, QUANTITY_MAX_DIGITS

MAX_QUANTITY = Decimal(10) ** (QUANTITY_MAX_DIGITS - QUANTITY_DECIMAL_PLACES) - 1

# Why a quantity was refused (refusals of one kind are summed up together).
MISSING = "quantity missing"
NOT_A_NUMBER = "quantity not a number"
AMBIGUOUS = "quantity ambiguous"
NOT_POSITIVE = "quantity not more than zero"
TOO_LARGE = "quantity too large"
TOO_PRECISE = "quantity with too many decimals"


class QuantityError(ValueError):
    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


_SPACE_MARKS = (" ", "\u00a0", "\u202f", "\u2009", "'", "\u2019")  # only ever group separators
_NUMERAL = re.compile(r"[+-]?[\d.,\u00a0\u202f\u2009 '\u2019]*\d[\d.,\u00a0\u202f\u2009 '\u2019]*\.?")


@dataclass(frozen=True)
class _Shape:
    sign: str
    integer: str  # with its group marks
    fraction: str
    decimal: str | None  # the decimal mark this text shows, if it shows one
    group: str | None  # the group mark, if any
    ambiguous: str | None  # the mark that could be either ("1,000")


def _shape(text: str) -> _Shape | None:
    """How a numeral writes its marks; None when it is not digits and marks (``1e3``, ``NaN``, ``abc``)."""
    if _NUMERAL.fullmatch(text) is None:
        return None
    sign, body = (text[0], text[1:]) if text[0] in "+-" else ("", text)
    spaced = any(mark in body for mark in _SPACE_MARKS)
    for mark in _SPACE_MARKS:
        body = body.replace(mark, " ")
    commas, points = body.count(","), body.count(".")
    decimal: str | None = None
    group: str | None = " " if spaced else None
    ambiguous: str | None = None
    if commas and points:
        decimal = "," if body.rfind(",") > body.rfind(".") else "."
        other = "." if decimal == "," else ","
        if spaced or body.count(decimal) > 1:
            raise QuantityError("", NOT_A_NUMBER)
        group = other
    elif commas or points:
        mark = "," if commas else "."
        if commas + points > 1:
            if spaced:
                raise QuantityError("", NOT_A_NUMBER)
            group = mark
        else:
            whole, _, fraction = body.partition(mark)
            if spaced or len(fraction) != 3 or not 1 <= len(whole) <= 3 or whole.startswith("0"):
                decimal = mark  # cannot be a group mark: it is the decimal mark
            else:
                ambiguous = mark
    if decimal:
        integer, _, fraction = body.partition(decimal)
    else:
        integer, fraction = body, ""
    return _Shape(sign, integer, fraction, decimal, group, ambiguous)


def _digits(shape: _Shape, group: str | None, decimal: str | None) -> str:
    """The plain numeral (``-1234.5``) for a shape read with these marks; QuantityError when the groups
    break the rule."""
    integer, fraction = shape.integer, shape.fraction
    if shape.ambiguous and decimal == shape.ambiguous:
        integer, _, fraction = integer.partition(decimal)
    if group:
        groups = integer.split(group)
        if not (1 <= len(groups[0]) <= 3 and all(len(part) == 3 for part in groups[1:])):
            raise QuantityError("", NOT_A_NUMBER)
        integer = "".join(groups)
    if not (integer or fraction) or not (integer + fraction).isdigit():
        raise QuantityError("", NOT_A_NUMBER)
    return f"{shape.sign}{integer or '0'}" + (f".{fraction}" if fraction else "")


def evident_decimal_mark(text: str) -> str | None:
    """The decimal mark a quantity shows unambiguously (``2.5`` → ".", ``1.000,5`` → ","), if any."""
    try:
        shape = _shape(text.strip())
    except QuantityError:
        return None
    if shape is None or shape.ambiguous:
        return None
    if shape.decimal:
        return shape.decimal if shape.fraction else None
    if shape.group in (",", "."):
        return "." if shape.group == "," else ","
    return None


def decimal_mark_evidence(texts: Iterable[str]) -> str | None:
    """The decimal mark the quantities of one file agree on, when some show it and none disagree."""
    marks = {mark for text in texts if (mark := evident_decimal_mark(text))}
    return marks.pop() if len(marks) == 1 else None


def parse_quantity(raw: str, *, decimal_mark: str | None = None) -> Decimal:
    """A quantity as the buyer typed it, by the module's rule; QuantityError (a ValueError) says why not.

    ``decimal_mark`` decides ``1,000`` / ``1.000``: the company's mark, or the file's evidence."""
    text = raw.strip()
    shown = text[:40]
    if not text:
        raise QuantityError("the quantity is missing", MISSING)
    not_a_number = QuantityError(f"quantity {shown!r} is not a number", NOT_A_NUMBER)
    try:
        shape = _shape(text)
    except QuantityError:
        raise not_a_number from None
    try:
        if shape is None:
            quantity = Decimal(text)  # 1e3, or Decimal's own refusal of text
        elif shape.ambiguous and decimal_mark not in (",", "."):
            mark = shape.ambiguous
            whole, _, fraction = shape.integer.partition(mark)
            thousands = Decimal(shape.sign + whole + fraction)
            decimals = Decimal(f"{shape.sign}{whole}.{fraction}").normalize()
            name = "comma" if mark == "," else "point"
            raise QuantityError(
                f"quantity {shown!r} is ambiguous: the {name} could separate thousands or decimals; "
                f"write {thousands:f} or {decimals:f}",
                AMBIGUOUS,
            )
        elif shape.ambiguous:
            as_decimal = decimal_mark == shape.ambiguous
            group, decimal = (None, decimal_mark) if as_decimal else (shape.ambiguous, None)
            quantity = Decimal(_digits(shape, group, decimal))
        else:
            quantity = Decimal(_digits(shape, shape.group, shape.decimal))
    except QuantityError as exc:
        if exc.kind == NOT_A_NUMBER:
            raise not_a_number from None
        raise
    except InvalidOperation:
        raise not_a_number from None
    if not quantity.is_finite():
        raise not_a_number
    return quantity_checked(quantity, shown)


def quantity_checked(quantity: Decimal, shown: str) -> Decimal:
    if quantity <= 0:
        raise QuantityError(f"quantity {shown} must be more than zero", NOT_POSITIVE)
    if quantity > MAX_QUANTITY:
        raise QuantityError(f"quantity {shown} is too large", TOO_LARGE)
    if quantity != quantity.quantize(Decimal(1).scaleb(-QUANTITY_DECIMAL_PLACES)):
        raise QuantityError(f"quantity {shown} has more than {QUANTITY_DECIMAL_PLACES} decimals", TOO_PRECISE)
    return quantity
