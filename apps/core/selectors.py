from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.brokers import get_broker

from apps.core.models import WorkerHeartbeat


@dataclass(frozen=True)
class CheckResult:
    name: str
    healthy: bool
    detail: str


@dataclass(frozen=True)
class HeartbeatView:
    worker: str
    beat_at: datetime
    age_seconds: int
    stale: bool


@dataclass(frozen=True)
class HealthReport:
    checks: list[CheckResult]
    heartbeats: list[HeartbeatView]
    checked_at: datetime

    @property
    def healthy(self) -> bool:
        return all(check.healthy for check in self.checks)


def _database_check() -> CheckResult:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return CheckResult("Database", False, f"{connection.vendor}: {exc}")
    elapsed_ms = (time.perf_counter() - started) * 1000
    return CheckResult("Database", True, f"{connection.vendor}, answered in {elapsed_ms:.1f} ms")


def _broker_check() -> CheckResult:
    try:
        broker = get_broker()
        reachable = broker.ping()
        depth = broker.queue_size()
    except Exception as exc:
        return CheckResult("Broker", False, f"unreachable: {exc}")
    if not reachable:
        return CheckResult("Broker", False, f"{broker.info()} did not answer")
    return CheckResult("Broker", True, f"{broker.info()}, {depth} task(s) queued")


def _heartbeats(now: datetime) -> tuple[CheckResult, list[HeartbeatView]]:
    stale_after = settings.HEARTBEAT_STALE_AFTER_SECONDS
    views = [
        HeartbeatView(
            worker=beat.worker,
            beat_at=beat.beat_at,
            age_seconds=int((now - beat.beat_at).total_seconds()),
            stale=(now - beat.beat_at).total_seconds() > stale_after,
        )
        for beat in WorkerHeartbeat.objects.order_by("-beat_at")[:20]
    ]
    if not views:
        return CheckResult("Workers", False, "no worker has reported a heartbeat yet"), views
    newest = views[0]
    if newest.stale:
        return (
            CheckResult(
                "Workers", False, f"last heartbeat {newest.age_seconds} s ago (stale after {stale_after} s)"
            ),
            views,
        )
    return CheckResult("Workers", True, f"last heartbeat {newest.age_seconds} s ago"), views


def health_report() -> HealthReport:
    now = timezone.now()
    workers_check, heartbeats = _heartbeats(now)
    return HealthReport(
        checks=[_database_check(), _broker_check(), workers_check],
        heartbeats=heartbeats,
        checked_at=now,
    )
