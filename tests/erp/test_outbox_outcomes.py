"""Every claimed job ends: whatever a handler or its apply step raises ends that job alone (retry with
backoff, failed or dead, the error kept), attempts never pass the maximum, claims live only while their
worker does, and a stopping worker hands back what it holds. The engine's own rules, without an ERP."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.accounts.models import Company
from apps.erp import registry, services, waker
from apps.erp.connectors.base import (
    Connector,
    ErpBusinessError,
    ErpHealth,
    ErpTransientError,
    ErpUnavailableError,
)
from apps.erp.models import ErpConnection, SyncEvent, SyncJob
from tests.accounts.factories import CompanyFactory

KIND = "customer.push"


@pytest.fixture
def erp_connection(db: None) -> ErpConnection:
    return services.connection_get_default()


class NullConnector:
    def close(self) -> None:
        pass


def _jobs(connection: ErpConnection, count: int) -> list[SyncJob]:
    return [
        services.job_enqueue(
            kind=KIND, target=CompanyFactory(), idempotency_key=f"k{n}", connection=connection
        )
        for n in range(count)
    ]


def _use_handler(monkeypatch: pytest.MonkeyPatch, handler: services.JobHandler) -> None:
    monkeypatch.setitem(registry._job_kinds, KIND, registry.JobKind(KIND, handler))


def _dispatch(connection: ErpConnection) -> services.DispatchReport:
    return services.dispatch(connection=connection, connector=NullConnector())  # type: ignore[arg-type]


def _statuses(jobs: list[SyncJob]) -> list[str]:
    return [SyncJob.objects.get(pk=job.pk).status for job in jobs]


# --- A handler or its apply step raising ends that job only -----------------------------------------------


def test_an_exception_on_one_job_ends_that_job_as_a_retry_and_the_batch_goes_on(
    erp_connection: ErpConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = _jobs(erp_connection, 5)
    poison = jobs[2]

    def handler(connector: Connector, batch: list[SyncJob]) -> None:
        for job in batch:
            if job.pk == poison.pk:
                raise KeyError("no such product")  # any bug, not an ErpError
            services.job_succeed(job=job, erp_reference=f"E{job.pk}", message="pushed")

    _use_handler(monkeypatch, handler)
    report = _dispatch(erp_connection)

    poison.refresh_from_db()
    assert report.claimed == 5
    assert report.succeeded == 4
    assert report.retrying == 1
    assert poison.status == SyncJob.Status.PENDING
    assert poison.last_error_kind == SyncJob.ErrorKind.INTERNAL
    assert "KeyError" in poison.last_error
    assert "no such product" in poison.last_error
    assert poison.next_attempt_at > timezone.now()  # backoff, not an instant re-claim
    assert poison.claimed_by == "" or poison.lease_expires_at is None
    assert SyncEvent.objects.filter(job=poison, outcome=SyncEvent.Outcome.RETRYING).count() == 1
    assert _statuses([job for job in jobs if job.pk != poison.pk]) == [SyncJob.Status.SUCCEEDED] * 4


def test_an_apply_step_that_raises_keeps_nothing_and_the_job_retries(
    erp_connection: ErpConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    (job,) = _jobs(erp_connection, 1)
    company = Company.objects.get(pk=job.target_id)

    def handler(connector: Connector, batch: list[SyncJob]) -> None:
        def apply() -> None:
            Company.objects.filter(pk=company.pk).update(erp_party_id="999")
            raise RuntimeError("A accepted order cannot become sent to erp")

        for claimed in batch:
            services.job_succeed(job=claimed, erp_reference="999", message="created", apply=apply)

    _use_handler(monkeypatch, handler)
    _dispatch(erp_connection)

    job.refresh_from_db()
    company.refresh_from_db()
    assert job.status == SyncJob.Status.PENDING
    assert "cannot become sent to erp" in job.last_error
    assert company.erp_party_id == ""  # the apply step's write went with it
    assert job.erp_reference == ""


def test_a_handler_that_forgets_a_job_still_ends_it(
    erp_connection: ErpConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = _jobs(erp_connection, 3)
    _use_handler(monkeypatch, lambda connector, batch: None)

    _dispatch(erp_connection)

    for job in jobs:
        job.refresh_from_db()
        assert job.status == SyncJob.Status.PENDING
        assert "without an outcome" in job.last_error
    assert not SyncJob.objects.filter(status=SyncJob.Status.IN_FLIGHT).exists()


def test_a_job_that_keeps_raising_is_dead_after_its_attempts_and_never_passes_them(
    erp_connection: ErpConnection, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    (job,) = _jobs(erp_connection, 1)

    def handler(connector: Connector, batch: list[SyncJob]) -> None:
        raise ValueError("always")

    _use_handler(monkeypatch, handler)
    for _ in range(job.max_attempts + 3):
        SyncJob.objects.filter(pk=job.pk, status=SyncJob.Status.PENDING).update(
            next_attempt_at=timezone.now()
        )
        _dispatch(erp_connection)
        assert SyncJob.objects.get(pk=job.pk).attempts <= job.max_attempts

    job.refresh_from_db()
    assert job.status == SyncJob.Status.DEAD
    assert job.attempts == job.max_attempts
    assert "ValueError: always" in job.last_error


def test_business_errors_still_fail_for_a_person(
    erp_connection: ErpConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    (job,) = _jobs(erp_connection, 1)

    def handler(connector: Connector, batch: list[SyncJob]) -> None:
        for claimed in batch:
            services.job_fail(job=claimed, error=ErpBusinessError("credit limit"))

    _use_handler(monkeypatch, handler)
    _dispatch(erp_connection)

    job.refresh_from_db()
    assert job.status == SyncJob.Status.FAILED
    assert job.last_error == "credit limit"


# --- Claims live with their worker ------------------------------------------------------------------------


def _long_gone() -> datetime:
    """A lease end so far back that the lost worker's last ERP call has certainly ended."""
    return timezone.now() - timedelta(seconds=settings.ERP_LOST_CALL_SECONDS + 1)


def test_a_lost_worker_on_its_last_attempt_is_dead_lettered_not_claimed_again(
    erp_connection: ErpConnection,
) -> None:
    (job,) = _jobs(erp_connection, 1)
    SyncJob.objects.filter(pk=job.pk).update(
        status=SyncJob.Status.IN_FLIGHT,
        attempts=job.max_attempts,
        claimed_by="elsewhere:1",
        claimed_at=timezone.now() - timedelta(minutes=1),
        lease_expires_at=_long_gone(),
        last_error="timed out",
    )

    claimed = services.jobs_claim_due(connection=erp_connection, limit=10, worker="me:1")

    job.refresh_from_db()
    assert claimed == []
    assert job.status == SyncJob.Status.DEAD
    assert job.attempts == job.max_attempts
    assert "stopped during attempt 8 of 8" in job.last_error
    assert "timed out" in job.last_error


def test_an_expired_claim_is_taken_again_and_the_old_worker_cannot_overwrite_its_outcome(
    erp_connection: ErpConnection,
) -> None:
    (job,) = _jobs(erp_connection, 1)
    (old,) = services.jobs_claim_due(connection=erp_connection, limit=1, worker="old:1")
    assert services.jobs_claim_due(connection=erp_connection, limit=1, worker="new:1") == []  # leased

    # The lease ran out, but the call the old worker may have been making can still be running in the
    # ERP: nobody takes the job before that call must have ended.
    SyncJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.jobs_claim_due(connection=erp_connection, limit=1, worker="new:1") == []
    SyncJob.objects.filter(pk=job.pk).update(lease_expires_at=_long_gone())
    (new,) = services.jobs_claim_due(connection=erp_connection, limit=1, worker="new:1")
    assert new.attempts == 2

    assert services.job_succeed(job=old, erp_reference="OLD", message="late") is False
    services.job_fail(job=old, error=ErpBusinessError("late"))
    job.refresh_from_db()
    assert (job.status, job.claimed_by, job.erp_reference) == (SyncJob.Status.IN_FLIGHT, "new:1", "")

    assert services.job_succeed(job=new, erp_reference="NEW", message="done") is True
    job.refresh_from_db()
    assert (job.status, job.erp_reference) == (SyncJob.Status.SUCCEEDED, "NEW")


def test_a_working_worker_renews_its_claims(erp_connection: ErpConnection, settings) -> None:
    settings.ERP_JOB_LEASE_SECONDS = 15
    jobs = _jobs(erp_connection, 2)
    services.jobs_claim_due(connection=erp_connection, limit=1, worker="me:1")
    SyncJob.objects.filter(pk=jobs[0].pk).update(lease_expires_at=timezone.now() + timedelta(seconds=1))

    assert services.leases_renew(worker="me:1") == 1

    renewed = SyncJob.objects.get(claimed_by="me:1")
    assert renewed.lease_expires_at > timezone.now() + timedelta(seconds=14)
    assert SyncJob.objects.get(pk=jobs[1].pk).lease_expires_at is None  # not its claim


def test_claims_of_a_dead_process_on_this_host_are_due_once_its_last_erp_call_has_ended(
    erp_connection: ErpConnection, settings
) -> None:
    settings.ERP_JOB_LEASE_SECONDS = 600  # without the dead-process check, ten minutes
    _jobs(erp_connection, 2)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = services.worker_name().split(":")[0]
    services.jobs_claim_due(connection=erp_connection, limit=1, worker=f"{host}:{dead.pid}")
    services.jobs_claim_due(connection=erp_connection, limit=1, worker=f"{host}:{os.getpid()}")  # alive

    assert services.claims_of_dead_workers_expire() == 1

    # Not at once: the dead process's last request may still be running in the ERP.
    assert services.jobs_claim_due(connection=erp_connection, limit=10, worker="next:1") == []
    lost = SyncJob.objects.get(claimed_by=f"{host}:{dead.pid}")
    due_at = lost.lease_expires_at + services._lost_call_wait()
    expected = timezone.now() + timedelta(seconds=settings.ERP_LOST_CALL_SECONDS)
    assert abs((due_at - expected).total_seconds()) < 5  # ERP_LOST_CALL_SECONDS from now, not 600 s
    SyncJob.objects.filter(pk=lost.pk).update(lease_expires_at=_long_gone() - services._lost_call_wait())
    taken = services.jobs_claim_due(connection=erp_connection, limit=10, worker="next:1")
    assert [job.pk for job in taken] == [SyncJob.objects.get(claimed_by="next:1").pk]
    assert SyncJob.objects.filter(claimed_by=f"{host}:{os.getpid()}", status="in_flight").count() == 1


def test_a_stopping_worker_hands_back_its_jobs_without_spending_an_attempt(
    erp_connection: ErpConnection,
) -> None:
    jobs = _jobs(erp_connection, 3)
    services.jobs_claim_due(connection=erp_connection, limit=2, worker="me:1")

    assert services.jobs_release(worker="me:1") == 2

    assert sorted(_statuses(jobs)) == [SyncJob.Status.PENDING] * 3
    assert set(SyncJob.objects.values_list("attempts", flat=True)) == {0}
    assert services.jobs_due_exist()  # the one never claimed
    # The handed-back ones wait until a call the stop cut short has ended in the ERP.
    soonest = timezone.now() + timedelta(seconds=settings.ERP_LOST_CALL_SECONDS - 5)
    handed_back = SyncJob.objects.exclude(pk=jobs[2].pk).values_list("next_attempt_at", flat=True)
    assert all(when > soonest for when in handed_back)


def test_sigterm_during_dispatch_hands_the_batch_back(
    erp_connection: ErpConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    jobs = _jobs(erp_connection, 3)

    def handler(connector: Connector, batch: list[SyncJob]) -> None:
        services.job_succeed(job=batch[0], erp_reference="E", message="pushed")
        os.kill(os.getpid(), signal.SIGTERM)  # systemd stopping the cluster, mid-batch

    _use_handler(monkeypatch, handler)
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(services.WorkerStopping):
        _dispatch(erp_connection)

    assert signal.getsignal(signal.SIGTERM) == previous
    assert sorted(_statuses(jobs)) == sorted(
        [SyncJob.Status.SUCCEEDED, SyncJob.Status.PENDING, SyncJob.Status.PENDING]
    )
    assert SyncJob.objects.filter(status=SyncJob.Status.PENDING, attempts=0).count() == 2


def test_a_dispatcher_run_stops_at_its_time_limit_and_says_more_is_due(
    erp_connection: ErpConnection, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    settings.ERP_PUSH_BATCH_SIZE = 2
    _jobs(erp_connection, 5)

    def handler(connector: Connector, batch: list[SyncJob]) -> None:
        for job in batch:
            services.job_succeed(job=job, erp_reference="E", message="pushed")

    _use_handler(monkeypatch, handler)
    report = services.dispatch(connection=erp_connection, connector=NullConnector(), max_seconds=0)  # type: ignore[arg-type]

    assert report.claimed == 0
    assert report.more_due is True


# --- The waker ----------------------------------------------------------------------------------------


def test_the_waker_asks_for_a_run_only_when_due_work_waits(
    erp_connection: ErpConnection, settings, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    requested: list[bool] = []
    monkeypatch.setattr(services, "dispatch_request", lambda force=False: requested.append(force) or True)
    settings.ERP_OUTBOX_WAKER_SECONDS = 2

    assert waker.wake_once() is False  # nothing queued

    (job,) = _jobs(erp_connection, 1)
    assert waker.wake_once() is False  # just queued: its own on-commit request is on the way
    assert waker.wake_once(first=True) is True  # a cluster starting takes anything due

    SyncJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=3))
    assert waker.wake_once() is True  # a retry whose backoff ended, waiting for nobody
    SyncJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert waker.wake_once() is False  # backing off
    assert requested == [True, False]  # a starting cluster insists; later looks merge with a pending one


def test_the_waker_runs_only_in_a_qcluster_main_process() -> None:
    assert waker.running_qcluster(["manage.py", "qcluster"]) is True
    assert waker.running_qcluster(["manage.py", "runserver"]) is False
    assert waker.running_qcluster(["pytest"]) is False


def test_process_alive_sees_running_dead_and_zombie_processes() -> None:
    from apps.core.processes import process_alive

    assert process_alive(os.getpid()) is True
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = timezone.now() + timedelta(seconds=10)
    while timezone.now() < deadline and process_alive(zombie.pid):
        pass  # exited but not reaped: a zombie
    assert process_alive(zombie.pid) is False
    zombie.wait()
    assert process_alive(zombie.pid) is False


# --- An outage ends the moment the ERP answers -------------------------------------------------------


class ProbeConnector(NullConnector):
    def __init__(self, reachable: bool) -> None:
        self.reachable = reachable
        self.probes = 0

    def health(self) -> ErpHealth:
        self.probes += 1
        return ErpHealth(self.reachable, "8.2", "" if self.reachable else "Connection refused")


def _backing_off(jobs: list[SyncJob], kind: str) -> None:
    SyncJob.objects.filter(pk__in=[job.pk for job in jobs]).update(
        attempts=3, last_error_kind=kind, next_attempt_at=timezone.now() + timedelta(minutes=2)
    )


def test_jobs_that_could_not_reach_the_erp_are_marked_as_waiting_on_an_outage(
    erp_connection: ErpConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    (job,) = _jobs(erp_connection, 1)

    def handler(connector: Connector, batch: list[SyncJob]) -> None:
        for claimed in batch:
            services.job_fail(job=claimed, error=ErpUnavailableError("The ERP is unreachable (refused)."))

    _use_handler(monkeypatch, handler)
    _dispatch(erp_connection)

    job.refresh_from_db()
    assert (job.status, job.last_error_kind) == (SyncJob.Status.PENDING, SyncJob.ErrorKind.UNAVAILABLE)
    assert services.jobs_waiting_on_outage(connection=erp_connection)


def test_the_waker_probe_makes_outage_jobs_due_when_the_erp_answers_again(
    erp_connection: ErpConnection,
) -> None:
    outage, other = _jobs(erp_connection, 2)
    _backing_off([outage], SyncJob.ErrorKind.UNAVAILABLE)
    _backing_off([other], SyncJob.ErrorKind.TRANSIENT)  # e.g. waiting for its customer: not woken
    down = ProbeConnector(reachable=False)

    assert waker.probe_outage(connection=erp_connection, connector=down) == 0  # type: ignore[arg-type]
    assert SyncJob.objects.get(pk=outage.pk).next_attempt_at > timezone.now()

    assert waker.probe_outage(connection=erp_connection, connector=ProbeConnector(True)) == 1  # type: ignore[arg-type]

    assert SyncJob.objects.get(pk=outage.pk).next_attempt_at <= timezone.now()
    assert SyncJob.objects.get(pk=other.pk).next_attempt_at > timezone.now()
    _backing_off([outage], SyncJob.ErrorKind.NONE)
    quiet = ProbeConnector(reachable=True)
    assert waker.probe_outage(connection=erp_connection, connector=quiet) == 0  # type: ignore[arg-type]
    assert quiet.probes == 0  # nothing waits on an outage: the ERP is not asked


def test_a_success_wakes_what_waited_on_the_outage(
    erp_connection: ErpConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting, _fresh = _jobs(erp_connection, 2)
    _backing_off([waiting], SyncJob.ErrorKind.UNAVAILABLE)

    def handler(connector: Connector, batch: list[SyncJob]) -> None:
        for claimed in batch:
            services.job_succeed(job=claimed, erp_reference="E", message="pushed")

    _use_handler(monkeypatch, handler)
    report = _dispatch(erp_connection)

    assert report.succeeded == 2  # the fresh job, then the one that waited, in the same run
    assert set(SyncJob.objects.values_list("status", flat=True)) == {SyncJob.Status.SUCCEEDED}


def test_dispatch_requests_merge_while_one_waits_in_the_queue(settings, monkeypatch) -> None:
    enqueued: list[str] = []
    monkeypatch.setattr(services, "async_task", lambda func, **kwargs: enqueued.append(func))
    services.dispatch_request_taken()

    assert services.dispatch_request() is True
    assert [services.dispatch_request() for _ in range(50)] == [False] * 50  # 50 submits, one task
    services.dispatch_request_taken()  # the run starts: later work needs a new request
    assert services.dispatch_request() is True
    assert services.dispatch_request(force=True) is True  # a cluster starting after a crash
    assert enqueued == ["apps.erp.tasks.dispatch"] * 3
    services.dispatch_request_taken()


def test_reading_the_default_connection_writes_nothing_when_settings_are_unchanged(
    erp_connection: ErpConnection, django_assert_num_queries, settings
) -> None:
    with django_assert_num_queries(1):
        assert services.connection_get_default().pk == erp_connection.pk

    settings.ERP_URL = "http://erp.example:8000"
    assert services.connection_get_default().url == "http://erp.example:8000"
    assert ErpConnection.objects.get().url == "http://erp.example:8000"


def test_a_batch_the_busy_erp_timed_out_on_is_retried_in_smaller_batches(
    erp_connection: ErpConnection, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    from django.core.cache import cache

    cache.clear()
    settings.ERP_PUSH_BATCH_SIZE = 8
    _jobs(erp_connection, 8)
    sizes: list[int] = []
    busy = True

    def handler(connector: Connector, batch: list[SyncJob]) -> None:
        sizes.append(len(batch))
        for job in batch:
            if busy:
                services.job_fail(job=job, error=ErpTransientError("The ERP did not answer in time."))
            else:
                services.job_succeed(job=job, erp_reference="E", message="pushed")

    _use_handler(monkeypatch, handler)
    _dispatch(erp_connection)
    assert services.batch_limit(erp_connection) == 4

    busy = False
    SyncJob.objects.update(next_attempt_at=timezone.now())
    _dispatch(erp_connection)

    assert sizes == [8, 4, 4]  # halved after the timeout, doubled back after each answer
    assert services.batch_limit(erp_connection) == 8
    cache.clear()


def test_an_unreachable_erp_does_not_shrink_the_batches(
    erp_connection: ErpConnection, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    from django.core.cache import cache

    cache.clear()
    settings.ERP_PUSH_BATCH_SIZE = 8
    _jobs(erp_connection, 8)

    def handler(connector: Connector, batch: list[SyncJob]) -> None:
        for job in batch:
            services.job_fail(job=job, error=ErpUnavailableError("The ERP is unreachable."))

    _use_handler(monkeypatch, handler)
    _dispatch(erp_connection)

    assert services.batch_limit(erp_connection) == 8


def test_at_most_erp_dispatchers_runs_at_once_and_a_dead_holders_place_is_taken_over(settings) -> None:
    from django.core.cache import cache

    cache.clear()
    settings.ERP_DISPATCHERS = 2
    first = services.dispatcher_slot_take()
    second = services.dispatcher_slot_take()
    assert first is not None
    assert second is not None
    assert first != second
    assert services.dispatcher_slot_take() is None  # a third run leaves the work to the two at work

    services.dispatcher_slot_release(first)
    assert services.dispatcher_slot_take() == first

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = services.worker_name().rsplit(":", 1)[0]
    cache.set(second, f"{host}:{dead.pid}")  # its worker was SIGKILLed mid-run
    assert services.dispatcher_slot_take() == second
    cache.clear()


def test_the_dispatch_task_runs_only_in_a_free_place(settings, monkeypatch) -> None:
    from django.core.cache import cache

    from apps.erp import tasks

    cache.clear()
    settings.ERP_SYNC_ENABLED = True
    settings.ERP_DISPATCHERS = 1
    runs: list[bool] = []
    monkeypatch.setattr(services, "connection_get_default", lambda: None)
    monkeypatch.setattr(services, "dispatch", lambda: runs.append(True) or services.DispatchReport())
    taken = services.dispatcher_slot_take()

    assert "at work" in tasks.dispatch()
    assert runs == []
    services.dispatcher_slot_release(taken)  # type: ignore[arg-type]
    tasks.dispatch()
    assert runs == [True]
    assert services.dispatcher_slot_take() is not None  # the run gave its place back
    cache.clear()
