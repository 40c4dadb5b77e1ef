"""What every Tryton stream shares: the "changed since" domain, record stamps and id-ordered pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from apps.erp.connectors.base import Page
from apps.erp.connectors.tryton.client import TrytonClient

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

RecordT = TypeVar("RecordT")
# A domain clause that reads archived records too: Tryton skips its ``active_test`` for a domain that
# names ``active``, for the searched model only (unlike the ``active_test: False`` context, which also
# lets inactive records into the one2many and many2many fields read with it).
EVERY_ACTIVE_STATE = ["active", "in", [True, False]]


def changed_since(since: datetime | None, *paths: str) -> list[Any]:
    """Domain: created or written at/after ``since`` on the record or any of the related ``paths``."""
    if since is None:
        return []
    clauses: list[Any] = ["OR"]
    for prefix in ("", *(f"{path}." for path in paths)):
        clauses.append([f"{prefix}write_date", ">=", since])
        clauses.append([f"{prefix}create_date", ">=", since])
    return [clauses]


def changed_after(since: datetime | None, *paths: str) -> list[Any]:
    """Domain: created or written strictly after ``since`` (Tryton keeps microseconds): what a stream
    whose cursor stands at ``since`` has not read yet."""
    return changed_since(since + timedelta(microseconds=1) if since else None, *paths)


def any_match(
    client: TrytonClient, model: str, domain: list[Any], context: dict[str, Any] | None = None
) -> bool:
    """Whether a record of ``model`` matches ``domain``: one ``search`` with limit 1 (ids only), the
    cheapest question Tryton answers."""
    return bool(client.model(model, "search", domain, 0, 1, None, context=context))


def stamp(*values: datetime | None) -> datetime:
    """The latest of ``values`` (None ignored); the epoch without any."""
    return max((value for value in values if value is not None), default=EPOCH)


def after_id(after: str) -> int:
    """The id a Tryton read goes on after: pages go by ascending id and a ``Page.next`` is the last id."""
    return int(after) if after else 0


def id_page(records: list[RecordT], rows: list[dict[str, Any]], after: str, limit: int) -> Page[RecordT]:
    """The page of ``records`` read from ``rows`` (a ``search_read`` by ascending id after ``after``, at
    most ``limit``): ``next`` is its last id."""
    return Page(records, str(rows[-1]["id"]) if rows else after, len(rows) == limit)
