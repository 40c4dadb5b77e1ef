"""The sync engine's own rules, without an ERP: backoff, error classes, claiming, alerts, the monitor."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from django.core import mail
from django.db import close_old_connections, connection
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import StaffRole
from apps.catalog.erp import PRODUCTS
from apps.erp import alerts, services
from apps.erp.connectors.base import ErpBusinessError, ErpTransientError
from apps.erp.connectors.tryton.client import TrytonClient, TrytonWarning
from apps.erp.models import ErpConnection, Incident, SyncCursor, SyncJob
from tests.accounts.factories import CompanyFactory


@pytest.fixture
def erp_connection(db: None) -> ErpConnection:
    return services.connection_get_default()


def _jobs(connection: ErpConnection, count: int) -> list[SyncJob]:
    return [
        services.job_enqueue(
            kind="customer.push", target=CompanyFactory(), idempotency_key=f"k{n}", connection=connection
        )
        for n in range(count)
    ]


# --- Backoff ---------------------------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings) -> None:
    settings.ERP_BACKOFF_BASE_SECONDS = 10
    settings.ERP_BACKOFF_MAX_SECONDS = 300
    rng = random.Random(7)

    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (6, 300), (12, 300)]:
        delays = [services.backoff_delay(attempt, rng=rng).total_seconds() for _ in range(200)]
        assert min(delays) >= 5
        assert max(delays) <= ceiling
        assert len({round(d, 3) for d in delays}) > 150  # jittered, not a fixed step


# --- Error classes (the wire shapes of RECIPE.md §6, for statuses a local Tryton cannot be made to send) ----


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> TrytonClient:
    client = TrytonClient(
        "http://erp.invalid", "erp", "portal", "secret", transport=httpx.MockTransport(handler)
    )
    client._session_header = "Session x"
    return client


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (httpx.Response(503, text="<html>Service Unavailable</html>"), ErpTransientError, "busy"),
        (httpx.Response(429, text="Too Many Requests"), ErpTransientError, "rate-limited"),
        (httpx.Response(500, text="boom"), ErpTransientError, "HTTP 500"),
        (httpx.Response(403, text="Forbidden"), ErpBusinessError, "does not allow"),
        (
            httpx.Response(
                200,
                json={
                    "id": 1,
                    "error": ["UserError", ['The party "Globex" will exceed its limit.', "", None]],
                },
            ),
            ErpBusinessError,
            "will exceed",
        ),
        (
            httpx.Response(
                200,
                json={"id": 1, "error": ["ConcurrencyException", "Records were modified in the meanwhile"]},
            ),
            ErpTransientError,
            "concurrency",
        ),
    ],
)
def test_errors_are_classified(response: httpx.Response, error: type, text: str) -> None:
    client = _client(lambda request: response)

    with pytest.raises(error, match=text):
        client.call("model.party.party.read", [1], ["name"], {})


def test_user_warning_is_a_business_error_with_its_name() -> None:
    body = {"id": 1, "error": ["UserWarning", ["credit_limit_2", "Limit exceeded by $10.", ""]]}
    client = _client(lambda request: httpx.Response(200, json=body))

    with pytest.raises(TrytonWarning) as info:
        client.call("model.sale.sale.confirm", [1], {})

    assert info.value.name == "credit_limit_2"
    assert isinstance(info.value, ErpBusinessError)


def test_timeout_is_transient() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ErpTransientError, match="did not answer"):
        _client(slow).call("model.party.party.read", [1], ["name"], {})


# --- Claiming --------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_never_claim_the_same_job() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED claims are a PostgreSQL feature; SQLite serialises claims by its write lock")
    conn = services.connection_get_default()
    _jobs(conn, 60)
    claimed: list[list[int]] = []
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        barrier.wait()
        mine: list[int] = []
        while jobs := services.jobs_claim_due(connection=conn, limit=5, worker=name):
            mine.extend(job.pk for job in jobs)
        claimed.append(mine)
        close_old_connections()

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [pk for mine in claimed for pk in mine]
    assert len(everything) == 60
    assert len(set(everything)) == 60
    assert SyncJob.objects.filter(status=SyncJob.Status.IN_FLIGHT, attempts=1).count() == 60


def test_same_idempotency_key_is_one_job(erp_connection: ErpConnection) -> None:
    company = CompanyFactory()
    first = services.job_enqueue(kind="customer.push", target=company, idempotency_key="same")
    second = services.job_enqueue(kind="customer.push", target=company, idempotency_key="same")

    assert first.pk == second.pk
    assert SyncJob.objects.count() == 1


def test_retry_of_a_succeeded_job_is_refused(erp_connection: ErpConnection) -> None:
    (job,) = _jobs(erp_connection, 1)
    SyncJob.objects.filter(pk=job.pk).update(status=SyncJob.Status.SUCCEEDED)

    with pytest.raises(services.InvalidJobAction):
        services.job_retry(job=job)
    job.refresh_from_db()
    assert job.status == SyncJob.Status.SUCCEEDED


# --- Alerts ----------------------------------------------------------------------------------------------


def test_stalled_stream_alerts_once_per_incident(
    erp_connection: ErpConnection, staff_factory, settings
) -> None:
    staff_factory(StaffRole.ADMIN, email="ops@wholesale.example")
    settings.ERP_STREAM_STALL_ALERT_SECONDS = 600
    cursor = SyncCursor.objects.create(
        connection=erp_connection,
        stream=PRODUCTS,
        last_success_at=timezone.now() - timedelta(hours=1),
        last_error="The ERP is unreachable",
    )

    assert alerts.alerts_check() == 1
    assert alerts.alerts_check() == 0  # still stalled: no second email
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@wholesale.example"]
    assert "Products" in mail.outbox[0].subject
    assert "unreachable" in mail.outbox[0].body

    cursor.last_success_at = timezone.now()
    cursor.save()
    alerts.alerts_check()
    assert Incident.objects.get().closed_at is not None

    SyncCursor.objects.filter(pk=cursor.pk).update(last_success_at=timezone.now() - timedelta(hours=2))
    assert alerts.alerts_check() == 1  # a new incident, a new email
    assert len(mail.outbox) == 2


def test_dead_job_alerts_once(erp_connection: ErpConnection, staff_factory) -> None:
    staff_factory(StaffRole.ADMIN, email="ops@wholesale.example")
    (job,) = _jobs(erp_connection, 1)
    SyncJob.objects.filter(pk=job.pk).update(status=SyncJob.Status.DEAD, attempts=8, last_error="HTTP 503")

    alerts.alerts_check()
    alerts.alerts_check()

    assert len(mail.outbox) == 1
    assert "dead after 8 attempts" in mail.outbox[0].subject
    services.job_retry(job=job)
    alerts.alerts_check()
    assert Incident.objects.get(key=f"job:{job.pk}").closed_at is not None


# --- Schedules and the monitor ---------------------------------------------------------------------------


def test_pull_runs_every_30_seconds_and_dispatch_every_minute(db: None) -> None:
    first, second = Schedule.objects.get(name="erp.pull.a"), Schedule.objects.get(name="erp.pull.b")
    dispatch = Schedule.objects.get(name="erp.dispatch")

    assert first.func == second.func == "apps.erp.tasks.pull"
    assert first.minutes == second.minutes == 1
    assert abs((second.next_run - first.next_run).total_seconds() - 30) < 2
    assert dispatch.func == "apps.erp.tasks.dispatch"


def test_monitor_shows_streams_queue_and_failed_jobs_and_retry_works(
    client: Client, erp_connection: ErpConnection, staff_factory, django_assert_max_num_queries
) -> None:
    client.force_login(staff_factory(StaffRole.ADMIN))
    SyncCursor.objects.create(
        connection=erp_connection,
        stream=CUSTOMERS,
        last_success_at=timezone.now(),
        items_last_run=7,
    )
    jobs = _jobs(erp_connection, 30)
    SyncJob.objects.filter(pk=jobs[0].pk).update(
        status=SyncJob.Status.FAILED, last_error='The party "X" is not valid.', attempts=1
    )
    SyncJob.objects.filter(pk__in=[job.pk for job in jobs[1:]]).update(
        status=SyncJob.Status.DEAD, last_error="HTTP 503", attempts=8
    )

    with django_assert_max_num_queries(15):
        html = client.get("/staff/sync/").content.decode()

    assert 'data-stream="customers"' in html
    assert 'data-queue="failed">1<' in html
    assert 'data-queue="dead">29<' in html
    assert "The party &quot;X&quot; is not valid." in html
    assert "Replay" in html

    response = client.post(f"/staff/sync/jobs/{jobs[1].pk}/retry/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    replayed = SyncJob.objects.get(pk=jobs[1].pk)
    assert replayed.status == SyncJob.Status.PENDING
    assert replayed.attempts == 0
    assert "replayed" in response.content.decode()


def test_concurrency_limit_caps_requests_in_flight_per_connection() -> None:
    import time

    state = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def slow(request: httpx.Request) -> httpx.Response:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return httpx.Response(200, json={"id": 1, "result": []})

    clients = [
        TrytonClient(
            "http://limited.invalid",
            "erp",
            "portal",
            "x",
            concurrency_limit=2,
            transport=httpx.MockTransport(slow),
        )
        for _ in range(6)
    ]
    for client in clients:
        client._session_header = "Session x"
    threads = [
        threading.Thread(target=client.call, args=("model.party.party.search", [], {})) for client in clients
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert state["peak"] == 2
