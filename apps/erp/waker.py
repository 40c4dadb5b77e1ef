"""The outbox waker: a thread in each ``qcluster``'s main process that keeps the outbox moving.

django-q2's scheduler ticks every 30 s and a schedule's unit is the minute, so a retry whose backoff ended
or a job whose worker died would wait up to a minute and a half for the dispatcher. The waker looks every
``ERP_OUTBOX_WAKER_SECONDS`` instead (one indexed query) and asks for a dispatcher run when due work has
waited that long without a worker taking it. It also takes back, at once, the jobs that processes of this
host were holding when they died (a SIGKILLed worker, a cluster restarted after a crash), asks for a
run as soon as the cluster is up, and while jobs back off because the ERP could not be reached, asks the
ERP every ``ERP_OUTAGE_PROBE_SECONDS`` whether it answers again, so the backlog goes the moment it does.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone

from apps.erp import services
from apps.erp.connectors import connector_for
from apps.erp.connectors.base import Connector
from apps.erp.models import ErpConnection

logger = logging.getLogger(__name__)

_started = threading.Event()


def running_qcluster(argv: list[str] | None = None) -> bool:
    argv = sys.argv if argv is None else argv
    return len(argv) > 1 and argv[1] == "qcluster"


def cluster_thread_start(name: str, target: Callable[[], None], started: threading.Event) -> bool:
    """Run ``target`` in a daemon thread, once per process, after the cluster has forked its sentinel (so
    no child inherits the thread's database socket). The waker's and the watcher's way in."""
    if started.is_set():
        return False
    started.set()

    def run() -> None:
        deadline = time.monotonic() + 30
        while not multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.2)
        target()

    threading.Thread(target=run, name=name, daemon=True).start()
    return True


def probe_outage(*, connection: ErpConnection, connector: Connector | None = None) -> int:
    """Jobs back off while the ERP cannot be reached; ask the ERP whether it answers again (one cheap
    call) and, if it does, make them due now. Returns how many were woken."""
    if not services.jobs_waiting_on_outage(connection=connection):
        return 0
    active = connector or connector_for(connection)
    try:
        if not active.health().reachable:
            return 0
    finally:
        if connector is None:
            active.close()
    return services.jobs_wake_after_outage(connection=connection)


def wake_once(*, first: bool = False, probe: bool = False) -> bool:
    """One look: take back dead local processes' claims, with ``probe`` ask an unreachable ERP whether
    it is back, and ask for a dispatcher run when due work is waiting (on the first look, when anything
    is due at all). True when a run was asked for."""
    services.claims_of_dead_workers_expire()
    if probe:
        for connection in ErpConnection.objects.filter(is_active=True):
            if probe_outage(connection=connection):
                first = True  # woken work is due now: no need to wait a look for it
    now = timezone.now()
    waiting_since = now if first else now - timedelta(seconds=settings.ERP_OUTBOX_WAKER_SECONDS)
    if not services.jobs_due_exist(since=waiting_since):
        return False
    return services.dispatch_request(force=first)


def _wake_forever() -> None:
    first = True
    last_probe = 0.0
    while True:
        try:
            probe = time.monotonic() - last_probe >= settings.ERP_OUTAGE_PROBE_SECONDS
            if probe:
                last_probe = time.monotonic()
            if wake_once(first=first, probe=probe):
                logger.info("Outbox waker: due work waiting, dispatcher run requested")
            first = False
        except Exception:
            logger.exception("Outbox waker: look failed; trying again")
            db_connection.close()
        time.sleep(settings.ERP_OUTBOX_WAKER_SECONDS)


def start_if_cluster() -> bool:
    """Called from the app's ready(): start the waker once, in a ``qcluster`` main process only."""
    if not (settings.ERP_SYNC_ENABLED and settings.ERP_OUTBOX_WAKER and running_qcluster()):
        return False
    return cluster_thread_start("erp-outbox-waker", _wake_forever, _started)
