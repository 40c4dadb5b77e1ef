"""The ERP watcher: ERP changes on open pages within seconds (issue 12), the 30 s pull schedule as fallback.

A thread in each ``qcluster``'s main process (started from ``ErpConfig.ready()``, like the outbox waker)
looks every ``ERP_WATCH_SECONDS``. Only the holder of the watch lease (in the cache, renewed by each look,
expiring ``ERP_WATCH_LEASE_SECONDS`` after a dead holder's last look) asks the ERP anything: per stream,
one cheap question (``Connector.changed_streams``: has a record changed after the stream's cursor?), and
it pulls at once the streams that answer yes, through ``inbound.pull_stream`` (which holds the stream's own
lease, so the scheduled pull and the watcher never pull a stream twice at once). A pull that changed
something bumps the stream's page version; open pages poll that version cheaply and refresh what shows it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection as db_connection

from apps.erp import inbound, registry, services
from apps.erp.connectors import connector_for
from apps.erp.connectors.base import Connector, ErpError
from apps.erp.models import ErpConnection, SyncCursor
from apps.erp.waker import cluster_thread_start, running_qcluster

logger = logging.getLogger(__name__)

_started = threading.Event()
# A stream an ERP notification (webhook) asked to pull, waiting for the watcher's next look.
REQUEST_KEY = "erp:watch:request:{connection}:{stream}"
REQUEST_TTL_SECONDS = 300  # a request no watcher took by then is left to the schedule


def streams_request(connection_pk: int, streams: set[str]) -> None:
    """Ask the watcher to pull these streams of the connection at its next look (within
    ``ERP_WATCH_SECONDS``), whatever the ERP's change marks say: an ERP notification named them."""
    cache.set_many(
        {REQUEST_KEY.format(connection=connection_pk, stream=stream): 1 for stream in streams},
        REQUEST_TTL_SECONDS,
    )


def streams_requested(connection_pk: int, streams: list[str]) -> set[str]:
    """The streams asked for since the last look; taken (the requests are cleared)."""
    keys = {REQUEST_KEY.format(connection=connection_pk, stream=stream): stream for stream in streams}
    found = cache.get_many(list(keys))
    if found:
        cache.delete_many(list(found))
    return {keys[key] for key in found}


@dataclass
class WatchReport:
    held: bool  # this watcher held the lease (else it asked nothing)
    asked: int = 0  # questions asked of the ERP
    changed: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)  # asked for by an ERP notification (webhook)
    pulled: list[inbound.PullReport] = field(default_factory=list)
    error: str = ""


class Watcher:
    """One watcher's state: its lease owner name, its connectors (kept between looks: one login) and the
    streams it leaves to the schedule for a while (see ``watch_once``)."""

    def __init__(self, owner: str | None = None) -> None:
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._connectors: dict[int, Connector] = {}
        self._resting: dict[tuple[int, str], float] = {}

    def close(self) -> None:
        for connector in self._connectors.values():
            connector.close()
        self._connectors.clear()
        services.watch_lease_release(self.owner)

    def _connector(self, connection: ErpConnection) -> Connector:
        if connection.pk not in self._connectors:
            self._connectors[connection.pk] = connector_for(connection)
        return self._connectors[connection.pk]

    def watch_once(self, *, connection: ErpConnection | None = None) -> WatchReport:
        """One look: take or renew the lease, ask the ERP which streams changed after their cursors and
        pull those now, in pull order."""
        if not services.watch_lease_take(self.owner, settings.ERP_WATCH_LEASE_SECONDS):
            return WatchReport(held=False)
        report = WatchReport(held=True)
        connections = [connection] if connection else list(ErpConnection.objects.filter(is_active=True))
        for conn in connections:
            self._watch_connection(conn, report)
        return report

    def _watch_connection(self, connection: ErpConnection, report: WatchReport) -> None:
        streams = registry.stream_names()
        positions: dict[str, datetime | None] = dict.fromkeys(streams)
        positions.update(
            SyncCursor.objects.filter(connection=connection, stream__in=streams).values_list(
                "stream", "position_time"
            )
        )
        now = time.monotonic()
        since = {
            stream: at
            for stream, at in positions.items()
            if self._resting.get((connection.pk, stream), 0) <= now
        }
        connector = self._connector(connection)
        requested = streams_requested(connection.pk, streams)
        report.requested += sorted(requested)
        try:
            changed = connector.changed_streams(since) | requested
        except ErpError as exc:
            report.error = exc.message
            self._connectors.pop(connection.pk).close()
            return
        finally:
            report.asked += len(since)
            services.watch_calls_count(len(since))
        for stream in streams:
            if stream not in changed:
                continue
            report.changed.append(stream)
            started = time.monotonic()
            pulled = inbound.pull_stream(connection=connection, stream=stream, connector=connector)
            logger.info(
                "ERP watcher: pulled %s (%s changed) in %.2f s",
                stream,
                pulled.changed,
                time.monotonic() - started,
            )
            report.pulled.append(pulled)
            if pulled.skipped or pulled.error:
                continue
            moved = inbound.cursor_get(connection, stream).position_time
            if moved == positions[stream]:
                # The ERP says "changed" but the pull found nothing past the cursor (a record whose own
                # stamp is older than the change that matched it): leave it to the schedule for a while
                # rather than ask and pull again at every look.
                self._resting[(connection.pk, stream)] = now + settings.ERP_SYNC_INTERVAL_SECONDS


def watch_forever(stop: threading.Event | None = None, watcher: Watcher | None = None) -> None:
    """Look every ``ERP_WATCH_SECONDS`` until ``stop`` is set (never, in a cluster)."""
    stop = stop or threading.Event()
    watcher = watcher or Watcher()
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                report = watcher.watch_once()
                if report.changed:
                    logger.info("ERP watcher: %s changed, pulled", ", ".join(report.changed))
            except Exception:
                logger.exception("ERP watcher: look failed; trying again")
                db_connection.close()
            stop.wait(max(0.0, settings.ERP_WATCH_SECONDS - (time.monotonic() - started)))
    finally:
        watcher.close()
        db_connection.close()


def start_if_cluster() -> bool:
    """Called from the app's ready(): start the watcher once, in a ``qcluster`` main process only."""
    if not (settings.ERP_SYNC_ENABLED and settings.ERP_WATCH_ENABLED and running_qcluster()):
        return False
    return cluster_thread_start("erp-watcher", watch_forever, _started)
