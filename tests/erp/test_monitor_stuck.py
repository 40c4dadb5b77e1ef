"""The monitor and the alerts see stuck work: jobs in flight far too long, jobs whose worker was lost,
due work no worker takes; with attempts, last error and ages, and one alert per incident."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from apps.accounts.models import StaffRole
from apps.erp import alerts, services
from apps.erp.models import ErpConnection, Incident, SyncJob
from apps.erp.selectors import queue_view
from tests.accounts.factories import CompanyFactory


@pytest.fixture
def erp_connection(db: None) -> ErpConnection:
    return services.connection_get_default()


def _jobs(connection: ErpConnection, count: int) -> list[SyncJob]:
    return [
        services.job_enqueue(
            kind="order.push", target=CompanyFactory(), idempotency_key=f"s{n}", connection=connection
        )
        for n in range(count)
    ]


def _in_flight(jobs: list[SyncJob], *, claimed_ago: int, lease_left: int, error: str = "") -> None:
    now = timezone.now()
    SyncJob.objects.filter(pk__in=[job.pk for job in jobs]).update(
        status=SyncJob.Status.IN_FLIGHT,
        claimed_by="worker-host:4242",
        claimed_at=now - timedelta(seconds=claimed_ago),
        lease_expires_at=now + timedelta(seconds=lease_left),
        attempts=3,
        last_error=error,
    )


def test_the_monitor_never_says_nothing_failed_over_stuck_work(
    client: Client, erp_connection: ErpConnection, staff_factory, settings, django_assert_max_num_queries
) -> None:
    settings.ERP_JOB_STUCK_SECONDS = 300
    client.force_login(staff_factory(StaffRole.ADMIN))
    jobs = _jobs(erp_connection, 32)
    _in_flight(jobs[:30], claimed_ago=900, lease_left=10, error="HTTP 503 from the ERP")  # alive, stuck
    _in_flight(jobs[30:], claimed_ago=40, lease_left=-20)  # their worker died

    with django_assert_max_num_queries(12):
        html = client.get("/staff/sync/").content.decode()

    assert 'data-queue="in_flight">32' in html
    assert 'data-queue="stuck" class="error">30<' in html
    assert 'data-queue="orphaned" class="error">2<' in html
    assert "Nothing failed" not in html
    assert "HTTP 503 from the ERP" in html
    assert "3 / 8" in html
    assert "worker lost" in html
    assert "for 900 s by <code>worker-host:4242</code>: stuck" in html


def test_a_healthy_queue_says_so(client: Client, erp_connection: ErpConnection, staff_factory) -> None:
    client.force_login(staff_factory(StaffRole.ADMIN))
    jobs = _jobs(erp_connection, 2)
    _in_flight(jobs, claimed_ago=2, lease_left=13)

    html = client.get("/staff/sync/").content.decode()

    assert "Nothing failed, nothing stuck." in html
    assert 'data-queue="stuck">0<' in html


def test_queue_view_ages(erp_connection: ErpConnection) -> None:
    jobs = _jobs(erp_connection, 3)
    _in_flight(jobs[:1], claimed_ago=120, lease_left=5)
    SyncJob.objects.filter(pk=jobs[1].pk).update(next_attempt_at=timezone.now() - timedelta(seconds=75))
    SyncJob.objects.filter(pk=jobs[2].pk).update(next_attempt_at=timezone.now() + timedelta(minutes=3))

    queue = queue_view()

    assert (queue.in_flight, queue.due_now, queue.pending) == (1, 1, 2)
    assert 119 <= queue.oldest_in_flight_age_seconds <= 122
    assert 74 <= queue.oldest_due_age_seconds <= 78


def test_stuck_jobs_alert_once_per_incident(erp_connection: ErpConnection, staff_factory, settings) -> None:
    settings.ERP_JOB_STUCK_SECONDS = 300
    staff_factory(StaffRole.ADMIN, email="ops@wholesale.example")
    jobs = _jobs(erp_connection, 3)
    _in_flight(jobs, claimed_ago=901, lease_left=10, error="read timeout")

    assert alerts.alerts_check() == 1
    assert alerts.alerts_check() == 0
    assert len(mail.outbox) == 1
    assert "3 ERP job(s) in flight for over 300 s" in mail.outbox[0].subject
    assert "attempt 3 of 8" in mail.outbox[0].body
    assert "read timeout" in mail.outbox[0].body

    SyncJob.objects.update(status=SyncJob.Status.SUCCEEDED)
    alerts.alerts_check()
    assert Incident.objects.get(key="queue:stuck").closed_at is not None


def test_due_work_nobody_takes_alerts(erp_connection: ErpConnection, staff_factory, settings) -> None:
    settings.ERP_QUEUE_STALL_ALERT_SECONDS = 300
    settings.ERP_JOB_STUCK_SECONDS = 3600  # this test is about waiting work only
    staff_factory(StaffRole.ADMIN, email="ops@wholesale.example")
    jobs = _jobs(erp_connection, 2)
    SyncJob.objects.filter(pk=jobs[0].pk).update(next_attempt_at=timezone.now() - timedelta(seconds=200))
    assert alerts.alerts_check() == 0  # waiting, but not for long

    _in_flight(jobs[1:], claimed_ago=700, lease_left=-400)  # a lost worker's job nobody took back

    assert alerts.alerts_check() == 1
    assert "waited" in mail.outbox[0].subject
    assert "Is a qcluster running?" in mail.outbox[0].body
