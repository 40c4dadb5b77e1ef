from __future__ import annotations

import os
import socket

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule

from apps.core.models import WorkerHeartbeat

# name -> (task path, minutes between runs). Every periodic task of the portal is declared here, so a
# fresh database, a test database and production all get the same schedule from `migrate`.
SCHEDULES: dict[str, tuple[str, int]] = {
    "core.worker_heartbeat": ("apps.core.tasks.worker_heartbeat", settings.HEARTBEAT_INTERVAL_MINUTES),
}


@transaction.atomic
def schedules_ensure() -> None:
    """Create or update the django-q2 schedules declared in SCHEDULES; idempotent."""
    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
        )


def heartbeat_record(*, worker: str | None = None) -> WorkerHeartbeat:
    worker = worker or f"{socket.gethostname()}:{os.getppid()}"
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        worker=worker,
        defaults={"beat_at": timezone.now(), "broker": get_broker().info()},
    )
    return heartbeat
