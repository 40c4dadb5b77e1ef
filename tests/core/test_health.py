from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from apps.accounts.models import StaffRole
from apps.core.models import WorkerHeartbeat
from apps.core.selectors import health_report
from apps.core.tasks import worker_heartbeat


def test_heartbeat_schedule_exists_after_migrate(db: None) -> None:
    schedule = Schedule.objects.get(name="core.worker_heartbeat")

    assert schedule.func == "apps.core.tasks.worker_heartbeat"
    assert schedule.schedule_type == Schedule.MINUTES
    assert schedule.repeats == -1


def test_health_without_workers_is_unhealthy(db: None) -> None:
    report = health_report()

    checks = {check.name: check for check in report.checks}
    assert checks["Database"].healthy
    assert checks["Broker"].healthy
    assert not checks["Workers"].healthy
    assert not report.healthy


def test_fresh_heartbeat_makes_workers_healthy(db: None) -> None:
    worker_heartbeat()

    report = health_report()

    assert report.healthy
    assert report.heartbeats[0].age_seconds < 5


def test_stale_heartbeat_is_reported_with_its_age(db: None, settings) -> None:
    WorkerHeartbeat.objects.create(worker="host-a:1", beat_at=timezone.now() - timedelta(minutes=10))

    report = health_report()

    workers = next(check for check in report.checks if check.name == "Workers")
    assert not workers.healthy
    assert "stale after" in workers.detail
    assert report.heartbeats[0].stale
    assert 595 <= report.heartbeats[0].age_seconds <= 605


def test_health_page_shows_every_check_and_polls(client: Client, staff_factory: Callable) -> None:
    client.force_login(staff_factory(StaffRole.ADMIN))
    worker_heartbeat()

    html = client.get("/staff/health/").content.decode()

    for name in ("Database", "Broker", "Workers"):
        assert f'data-check="{name}"' in html
    assert 'hx-trigger="every 10s"' in html

    fragment = client.get("/staff/health/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<section class="card" id="health-panel"')
