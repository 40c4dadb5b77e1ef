from __future__ import annotations

import os
import socket
from datetime import timedelta

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
}


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


def heartbeat_record(*, worker: str | None = None) -> WorkerHeartbeat:
    worker = worker or f"{socket.gethostname()}:{os.getppid()}"
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        worker=worker,
        defaults={"beat_at": timezone.now(), "broker": get_broker().info()},
    )
    return heartbeat
