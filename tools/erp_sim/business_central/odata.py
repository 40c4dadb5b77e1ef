"""The OData v4 pieces of the Business Central simulator: JSON with exact decimals, BC's date-time text,
a small ``$filter`` evaluator and the error body.

Sources are cited as in the fact sheet (/work/shared/erp-wire/business-central.md): ``learn:`` abbreviates
https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DECIMAL_MARK = "\x00decimal:"


class ODataError(Exception):
    """An error answer: ``{"error": {"code", "message"}}`` for every 4xx/5xx.

    learn: webservices/use-odata-batch (error example) and webservices/dynamics-error-codes (codes); BC
    appends "CorrelationId: <guid>." to the message, which the simulator does too."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self, correlation_id: str) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": f"{self.message}  CorrelationId:  {correlation_id}."}}


def timestamp(value: datetime) -> str:
    """BC's ``lastModifiedDateTime`` text: UTC, milliseconds, ``Z`` (learn: api-reference/v2.0/
    dynamics-rate-limits shows ``2019-08-18T20:05:51.603Z``)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _marked(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_DECIMAL_MARK}{value:f}"
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _marked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_marked(item) for item in value]
    return value


def dumps(value: Any) -> bytes:
    """JSON with decimals as exact JSON numbers (BC sends amounts as numbers, e.g. ``"creditLimit": 0``)."""
    text = json.dumps(_marked(value))
    return re.sub(r'"\x5cu0000decimal:(-?[0-9.]+)"', r"\1", text).encode()


def loads(raw: bytes) -> Any:
    return json.loads(raw.decode() or "null", parse_float=Decimal)


# --- $filter ----------------------------------------------------------------------------------------------
# learn: webservices/odata-client-performance lists $filter among the query options; the documented delta
# example is `$filter=lastModifiedDateTime gt 2019-08-18T20:05:51.603Z` (learn: api-reference/v2.0/
# dynamics-rate-limits). The simulator evaluates comparisons joined by `and`: enough for
# `lastModifiedDateTime gt|ge …`, `externalDocumentNumber eq '…'`, `number eq '…'`, `orderNumber eq '…'`,
# `customerId eq <guid>` (fact sheet §4).

_CLAUSE = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|[^\s)]+)\s*")
_OPS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and a > b,
    "ge": lambda a, b: a is not None and a >= b,
    "lt": lambda a, b: a is not None and a < b,
    "le": lambda a, b: a is not None and a <= b,
}


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: Any


def _literal(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if GUID.match(text):
        return text.lower()
    if re.match(r"^\d{4}-\d{2}-\d{2}T", text):
        return parse_timestamp(text)
    if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        return date.fromisoformat(text)
    try:
        return Decimal(text)
    except ArithmeticError as error:
        raise ODataError(400, "BadRequest", f"Syntax error in $filter near '{text}'.") from error


def parse_filter(text: str) -> list[Clause]:
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip()):
        match = _CLAUSE.fullmatch(part.strip("() "))
        if not match:
            raise ODataError(400, "BadRequest", f"The $filter expression '{part}' is not supported.")
        clauses.append(Clause(match.group(1), match.group(2), _literal(match.group(3))))
    return clauses


def matches(record: dict[str, Any], clauses: list[Clause]) -> bool:
    for clause in clauses:
        if clause.field not in record:
            # learn: webservices/dynamics-error-codes (BadRequest_*): an unknown property is a bad request.
            raise ODataError(400, "BadRequest_NotFound", f"Could not find a property named '{clause.field}'.")
        value = record[clause.field]
        expected = clause.value
        if isinstance(value, str) and GUID.match(value) and isinstance(expected, str):
            value = value.lower()
        if isinstance(expected, datetime) and isinstance(value, datetime):
            value = value.replace(microsecond=value.microsecond // 1000 * 1000)
        if not _OPS[clause.op](value, expected):
            return False
    return True
