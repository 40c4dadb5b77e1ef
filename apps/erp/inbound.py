"""Inbound streams: pull pages by cursor from the ERP and hand them to the appliers the domain apps
registered (apps/erp/registry.py); the engine keeps the cursors, the one-puller-per-stream lease, the
progress and the timeline events, and knows nothing of the records themselves."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.erp import registry, services
from apps.erp.connectors import connector_for
from apps.erp.connectors.base import Connector, Cursor, ErpError, Page
from apps.erp.models import ErpConnection, SyncCursor, SyncEvent
from apps.erp.registry import Change, StreamSpec

logger = logging.getLogger(__name__)


@dataclass
class PullReport:
    stream: str
    pages: int = 0
    seen: int = 0
    changed: int = 0
    error: str = ""
    skipped: bool = False


def _events(connection: ErpConnection, changes: list[Change]) -> None:
    """Timeline rows for the records a page created or changed, one per record (what several appliers
    said of it joined), in one bulk insert."""
    merged: dict[tuple[type, str], tuple[bool, list[str]]] = {}
    for change in changes:
        key = (change.model, str(change.pk))
        created, messages = merged.get(key, (False, []))
        if change.message and change.message not in messages:
            messages.append(change.message)
        merged[key] = (created or change.created, messages)
    if not merged:
        return
    content_types = ContentType.objects.get_for_models(*{model for model, _ in merged})
    SyncEvent.objects.bulk_create(
        SyncEvent(
            connection=connection,
            target_type=content_types[model],
            target_id=pk,
            direction=SyncEvent.Direction.INBOUND,
            outcome=SyncEvent.Outcome.CREATED if created else SyncEvent.Outcome.UPDATED,
            message="; ".join(messages),
        )
        for (model, pk), (created, messages) in merged.items()
    )


def apply_page(*, connection: ErpConnection, stream: str, records: list[Any]) -> int:
    """Write one page through every applier of the stream (in the caller's transaction) and its events;
    returns how many records changed (a record two appliers changed counts once)."""
    changed = 0
    changes: list[Change] = []
    for apply in registry.stream_get(stream).appliers:
        applied = apply(records)
        changed = max(changed, applied.changed)
        changes.extend(applied.changes)
    _events(connection, changes)
    return max(changed, len({(change.model, str(change.pk)) for change in changes}))


# --- The pull loop ---------------------------------------------------------------------------------------


def cursor_get(connection: ErpConnection, stream: str) -> SyncCursor:
    cursor, _ = SyncCursor.objects.get_or_create(connection=connection, stream=stream)
    return cursor


def pull_stream(
    *,
    connection: ErpConnection,
    stream: str,
    connector: Connector,
    page_size: int | None = None,
    after_page: Callable[[int], None] | None = None,
) -> PullReport:
    """Pull one stream from its cursor to the end, committing each page with the cursor's progress.

    The position advances only after a page is committed. A run reads from ``position_time`` minus the
    overlap window, so rows the ERP stamped in the past (long transactions) or changed while an earlier
    run was paging are read again; upserts make that harmless.
    """
    spec = registry.stream_get(stream)
    page_size = page_size or settings.ERP_PULL_PAGE_SIZE
    report = PullReport(stream=stream)
    cursor = cursor_get(connection, stream)
    now = timezone.now()
    lease = timedelta(seconds=settings.ERP_STREAM_LEASE_SECONDS)
    if not _stream_lock(cursor, now, lease):
        report.skipped = True
        return report
    try:
        return _pull(cursor, connection, spec, connector, page_size, report, after_page, lease)
    finally:
        SyncCursor.objects.filter(pk=cursor.pk).update(run_locked_until=None)


def _stream_lock(cursor: SyncCursor, now: datetime, lease: timedelta) -> bool:
    """Take the stream for this worker unless another one holds it (a dead worker's hold expires)."""
    taken = (
        SyncCursor.objects.filter(pk=cursor.pk)
        .filter(Q(run_locked_until__isnull=True) | Q(run_locked_until__lt=now))
        .update(run_locked_until=now + lease)
    )
    return taken == 1


def _pull(
    cursor: SyncCursor,
    connection: ErpConnection,
    spec: StreamSpec,
    connector: Connector,
    page_size: int,
    report: PullReport,
    after_page: Callable[[int], None] | None,
    lease: timedelta,
) -> PullReport:
    now = timezone.now()
    since = (
        cursor.position_time - timedelta(seconds=settings.ERP_PULL_OVERLAP_SECONDS)
        if cursor.position_time
        else None
    )
    if cursor.run_started_at is None or not cursor.position:
        cursor.run_started_at, cursor.run_items_done, cursor.position = now, 0, ""
    cursor.last_run_at = now
    cursor.save(update_fields=["run_started_at", "run_items_done", "position", "last_run_at", "updated_at"])
    high_water: datetime | None = cursor.position_time
    stream = spec.name

    def fetch_after(after: str) -> Page[Any]:
        return spec.fetch(connector, Cursor(since=since, after=after), page_size)

    try:
        # The next page is fetched from the ERP while this one is written to the database.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"erp-pull-{stream}") as prefetch:
            upcoming = prefetch.submit(fetch_after, cursor.position)
            while True:
                page: Page[Any] = upcoming.result()
                if page.has_more:
                    upcoming = prefetch.submit(fetch_after, page.next)
                with transaction.atomic():
                    changed = apply_page(connection=connection, stream=stream, records=page.records)
                    stamps = [r.changed_at for r in page.records if getattr(r, "changed_at", None)]
                    if stamps:
                        high_water = max([*stamps, *([high_water] if high_water else [])])
                    cursor.position = page.next if page.has_more else ""
                    cursor.run_items_done += len(page.records)
                    cursor.run_locked_until = timezone.now() + lease
                    cursor.save(
                        update_fields=["position", "run_items_done", "run_locked_until", "updated_at"]
                    )
                report.pages += 1
                report.seen += len(page.records)
                report.changed += changed
                if after_page is not None:
                    after_page(report.pages)
                if not page.has_more:
                    break
    except ErpError as exc:
        report.error = exc.message
        cursor.last_error, cursor.last_error_at = exc.message[:5000], timezone.now()
        cursor.consecutive_failures += 1
        cursor.save(update_fields=["last_error", "last_error_at", "consecutive_failures", "updated_at"])
        logger.warning("ERP pull %s failed: %s", stream, exc.message)
        if report.changed:
            services.stream_version_bump(stream)  # the pages committed before the failure
        return report
    finished = timezone.now()
    if spec.snapshot_first and since is None:
        # A first read of a snapshot stream (stock) covers every record as of now; later runs follow
        # the moves from here.
        high_water = now
    cursor.position_time = high_water
    cursor.position = ""
    cursor.run_started_at = None
    cursor.last_success_at = finished
    cursor.last_error = ""
    cursor.consecutive_failures = 0
    cursor.items_last_run = report.changed
    cursor.items_total += report.changed
    cursor.save(
        update_fields=[
            "position_time",
            "position",
            "run_started_at",
            "last_success_at",
            "last_error",
            "consecutive_failures",
            "items_last_run",
            "items_total",
            "updated_at",
        ]
    )
    if report.changed:
        services.stream_version_bump(stream)  # open pages showing this stream refresh on their next poll
    return report


def pull_round(
    *,
    connection: ErpConnection | None = None,
    connector: Connector | None = None,
    not_before: datetime | None = None,
    on_report: Callable[[PullReport, float], None] | None = None,
) -> list[PullReport]:
    """The one pull loop: every registered stream of every active connection (or of ``connection``), in
    pull order. ``not_before``: skip a stream whose last run started after it (the scheduled task pulls
    only what is due). ``on_report`` hears of each stream pulled, with its seconds."""
    connections = [connection] if connection else list(ErpConnection.objects.filter(is_active=True))
    reports = []
    for conn in connections:
        own = connector is None
        active = connector or connector_for(conn)
        try:
            for stream in registry.stream_names():
                if not_before is not None:
                    last_run = cursor_get(conn, stream).last_run_at
                    if last_run and last_run > not_before:
                        continue
                started = time.perf_counter()
                report = pull_stream(connection=conn, stream=stream, connector=active)
                reports.append(report)
                if on_report is not None:
                    on_report(report, time.perf_counter() - started)
        finally:
            if own:
                active.close()
    return reports


def pull_all(
    *, connection: ErpConnection | None = None, connector: Connector | None = None
) -> list[PullReport]:
    """Pull every stream now, whether due or not."""
    return pull_round(connection=connection, connector=connector)
