"""What every Odoo stream shares: ``write_date`` stamps (UTC, whole seconds), "changed since" domains,
id-ordered pages and the reading of many2one values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from apps.erp.connectors.base import Page
from apps.erp.connectors.odoo.client import OdooClient

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STAMP = "%Y-%m-%d %H:%M:%S"
# A domain clause that reads archived records too (the ORM skips its active_test for a domain naming
# ``active``).
EVERY_ACTIVE_STATE = ["active", "in", [True, False]]
EVERY = {"active_test": False}

RecordT = TypeVar("RecordT")


def parse_stamp(value: Any) -> datetime | None:
    """An ORM datetime ("YYYY-MM-DD HH:MM:SS", UTC) as an aware datetime; ``false`` as None."""
    if not value:
        return None
    return datetime.strptime(str(value)[:19], STAMP).replace(tzinfo=UTC)


def stamp(*values: Any) -> datetime:
    """The latest of the ORM datetimes ``values`` (false ones ignored); the epoch without any."""
    parsed = [parse_stamp(value) for value in values]
    return max((value for value in parsed if value is not None), default=EPOCH)


def _ceil_second(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def changed_since(since: datetime | None, *paths: str) -> list[Any]:
    """Domain: written at or after ``since`` on the record or on any record of the related ``paths``.

    ``write_date`` keeps whole seconds. A record stamped ``s`` changed somewhere within that second,
    but reports ``changed_at`` = ``s``: it is "at or after since" exactly when ``s >= since``, i.e.
    ``write_date >= since`` rounded up to the second. So a ``since`` that is a stamp the pull gave (the
    engine's high-water mark less its overlap) reads again the records stamped that very second."""
    if since is None:
        return []
    text = _ceil_second(since).strftime(STAMP)
    clauses: list[Any] = [
        [f"{prefix}write_date", ">=", text] for prefix in ("", *(f"{path}." for path in paths))
    ]
    return ["|"] * (len(clauses) - 1) + clauses


def changed_after(since: datetime | None, *paths: str) -> list[Any]:
    """Domain: written strictly after ``since`` (what a stream whose cursor stands at ``since`` has not
    read). A change in the same second as ``since`` is not seen here: the scheduled pull's overlap is."""
    return changed_since(since + timedelta(microseconds=1) if since else None, *paths)


def after_id(after: str) -> int:
    """The id a page position names ("" = the start)."""
    text = after.strip()
    return int(text) if text.isdigit() else 0


def id_page(records: list[RecordT], rows: list[dict[str, Any]], after: str, limit: int) -> Page[RecordT]:
    """The page of ``records`` read from ``rows`` (a ``search_read`` by ascending id, at most ``limit``)."""
    return Page(records, str(rows[-1]["id"]) if rows else after, len(rows) == limit)


def any_match(
    client: OdooClient, model: str, domain: list[Any], context: dict[str, Any] | None = None
) -> bool:
    """Whether a record of ``model`` matches ``domain``: one ``search`` with limit 1."""
    return bool(client.call(model, "search", domain=domain, limit=1, context=context))


def many2one(value: Any) -> int | None:
    """A many2one as read ([id, name] or false): its id."""
    return int(value[0]) if isinstance(value, list) and value else None


def many2one_name(value: Any) -> str | None:
    return str(value[1]) if isinstance(value, list) and len(value) > 1 else None


def text(value: Any) -> str:
    """A char field as read (false when empty) as text."""
    return "" if value is None or value is False else str(value)


def decimal(value: Any) -> Decimal:
    """A float/monetary field as read (parsed as Decimal; false when empty)."""
    if value is None or value is False:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def erp_id(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None
