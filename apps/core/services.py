from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule

from apps.core.models import WorkerHeartbeat

# name -> (task path, minutes between runs, offset of the first run in seconds). Every periodic task of
# the portal is declared here, so a fresh database, a test database and production all get the same
# schedule from `migrate`. django-q2's scheduler ticks every 30 s and a schedule's unit is the minute,
# so the ERP pull has two schedules half a minute apart: a pull every 30 s.
SCHEDULES: dict[str, tuple[str, int, int]] = {
    "core.worker_heartbeat": ("apps.core.tasks.worker_heartbeat", settings.HEARTBEAT_INTERVAL_MINUTES, 0),
    "erp.pull.a": ("apps.erp.tasks.pull", 1, 0),
    "erp.pull.b": ("apps.erp.tasks.pull", 1, 30),
    "erp.dispatch": ("apps.erp.tasks.dispatch", 1, 15),
    "erp.alerts": ("apps.erp.tasks.check_alerts", 5, 45),
    "erp.webhooks.renew": ("apps.erp.tasks.webhooks_renew", 60, 50),
    # Offers run out at the end of their valid-until day; every action re-checks it too.
    "quotes.expire": ("apps.quotes.tasks.expire_due", 1, 20),
}

# name -> (task path, local time of day "HH:MM"): tasks that run once a day. A django-q2 CRON schedule
# needs croniter, which the portal does not install, so these are DAILY schedules whose first run is the
# next such time; django-q2 keeps the local hour across daylight-saving changes.
DAILY_SCHEDULES: dict[str, tuple[str, str]] = {
    "erp.reconcile.nightly": ("apps.erp.tasks.reconcile_nightly", settings.ERP_RECONCILE_AT),
}


def next_local_time(at: str, now: datetime | None = None) -> datetime:
    """The next moment (after ``now``) the local clock shows ``at`` ("HH:MM")."""
    hour, minute = (int(part) for part in at.split(":"))
    local_now = timezone.localtime(now or timezone.now())
    candidate = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local_now:
        candidate = timezone.localtime(candidate + timedelta(days=1)).replace(hour=hour, minute=minute)
    return candidate


@transaction.atomic
def schedules_ensure() -> None:
    """Create or update the django-q2 schedules declared in SCHEDULES; idempotent."""
    now = timezone.now()
    for name, (func, minutes, offset) in SCHEDULES.items():
        schedule, created = Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
        )
        if created:
            schedule.next_run = now + timedelta(seconds=offset)
            schedule.save(update_fields=["next_run"])
    for name, (func, at) in DAILY_SCHEDULES.items():
        schedule, created = Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.DAILY, "repeats": -1}
        )
        local_next = timezone.localtime(schedule.next_run) if schedule.next_run else None
        if created or local_next is None or f"{local_next:%H:%M}" != at:  # new, or the setting changed
            schedule.next_run = next_local_time(at, now)
            schedule.save(update_fields=["next_run"])


def heartbeat_record(*, worker: str | None = None) -> WorkerHeartbeat:
    worker = worker or f"{socket.gethostname()}:{os.getppid()}"
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        worker=worker,
        defaults={"beat_at": timezone.now(), "broker": get_broker().info()},
    )
    return heartbeat
