"""What every Business Central stream shares: change-time filters, stamps, positions and pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

from apps.erp.connectors.base import Page
from apps.erp.connectors.business_central.client import ZERO_GUID, BusinessCentralClient

RecordT = TypeVar("RecordT")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(text: str | None) -> datetime:
    """BC's ``lastModifiedDateTime`` (``2019-08-18T20:05:51.603Z``) as an aware UTC datetime."""
    if not text:
        return EPOCH
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def parse_date(text: str | None) -> date | None:
    if not text or text.startswith("0001-01-01"):
        return None  # BC's empty date
    return date.fromisoformat(text[:10])


def time_literal(value: datetime) -> str:
    """A ``$filter`` date-time literal. BC keeps milliseconds, so "at or after ``value``" is "at or after
    ``value`` rounded up to the next millisecond" (a cursor one microsecond past a stamp excludes it)."""
    value = value.astimezone(UTC)
    if value.microsecond % 1000:
        value += timedelta(microseconds=1000 - value.microsecond % 1000)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def since_filter(since: datetime | None) -> str:
    """``$filter`` for records changed at or after ``since`` (learn: api-reference/v2.0/dynamics-rate-limits
    documents ``lastModifiedDateTime gt``; ``ge`` is the same OData comparison, inclusive)."""
    return f"lastModifiedDateTime ge {time_literal(since)}" if since is not None else ""


def after_filter(since: datetime | None) -> str:
    """``$filter`` for records changed strictly after ``since`` (what a stream at ``since`` has not read)."""
    if since is None:
        return ""
    return f"lastModifiedDateTime gt {time_literal(since)}"


def query(path: str, *clauses: str, expand: str = "", select: str = "", top: int = 0) -> str:
    parts = []
    wanted = [clause for clause in clauses if clause]
    if wanted:
        parts.append("$filter=" + " and ".join(wanted))
    if expand:
        parts.append(f"$expand={expand}")
    if select:
        parts.append(f"$select={select}")
    if top:
        parts.append(f"$top={top}")
    return f"{path}?{'&'.join(parts)}" if parts else path


def guid(value: Any) -> str | None:
    """An id field, None for BC's empty GUID."""
    text = str(value or "").lower()
    return None if not text or text == ZERO_GUID else text


def read_page(
    client: BusinessCentralClient, first: str, after: str, limit: int
) -> tuple[list[dict[str, Any]], str]:
    """One server-driven page: ``first`` (a company-relative path with its query) from the start, else the
    stored next link ``after``. Returns the records and the next link to store ("" when none)."""
    page = client.request("GET", after or first, page_size=limit)
    link = page.get("@odata.nextLink") or ""
    return list(page["value"]), client.relative(link) if link else ""


def link_page(records: list[RecordT], link: str) -> Page[RecordT]:
    return Page(records, link, bool(link))


def term_days(formula: str | None) -> int | None:
    """The days of a payment term's due-date formula (``30D``, ``2W``, ``1M`` ≈ 30 days, ``CM`` ≤ 31)."""
    text = (formula or "").strip().upper()
    if text in ("", "0D"):
        return 0
    if text == "CM":
        return 31
    match = re.fullmatch(r"(\d+)([DWMY])", text)
    if not match:
        return None
    count = int(match.group(1))
    return count * {"D": 1, "W": 7, "M": 30, "Y": 365}[match.group(2)]


@dataclass(frozen=True)
class Phase(Generic[RecordT]):
    """One collection a multi-collection run reads: its position prefix, its first page's path and what
    its rows become."""

    prefix: str
    path: str
    build: Callable[[list[dict[str, Any]]], list[RecordT]]


def phased_page(
    client: BusinessCentralClient, phases: Sequence[Phase[RecordT]], after: str, limit: int
) -> tuple[list[RecordT], str, bool]:
    """A page of a run over several collections one after the other (orders, then invoices): the next
    link of the one under way, prefixed with its name, is the position; a page that ends a collection
    goes on into the next one, so a run whose rest is empty says so (``has_more`` False)."""
    index = next((n for n, phase in enumerate(phases) if after.startswith(phase.prefix)), 0)
    link = after.removeprefix(phases[index].prefix)
    records: list[RecordT] = []
    while True:
        rows, link = read_page(client, phases[index].path, link, max(1, limit - len(records)))
        records += phases[index].build(rows)
        if link:
            return records, phases[index].prefix + link, True
        index += 1
        if index == len(phases):
            return records, "", False
        if len(records) >= limit:
            return records, phases[index].prefix, True
