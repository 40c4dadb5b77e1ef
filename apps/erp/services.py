"""The outbox and its dispatcher: jobs written with the change, claimed safely, pushed in batches."""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection as db_connection
from django.db import models, transaction
from django.db.models.functions import Greatest
from django.utils import timezone
from django_q.exceptions import TimeoutException
from django_q.tasks import async_task

from apps.core.processes import process_alive
from apps.erp import registry
from apps.erp.connectors import capabilities_for, connector_for
from apps.erp.connectors.base import Capabilities, Connector, ErpBusinessError, ErpError, ErpUnavailableError
from apps.erp.exceptions import InvalidJobAction, JobHandlerError
from apps.erp.models import ErpConnection, SyncEvent, SyncJob
from apps.erp.registry import JobHandler

logger = logging.getLogger(__name__)


# --- Connection ------------------------------------------------------------------------------------------


def connection_options(kind: str) -> dict[str, str]:
    """The non-secret settings of a kind of ERP, as the connection row keeps them (see the README)."""
    if kind == ErpConnection.Kind.BUSINESS_CENTRAL:
        options = {
            "tenant_id": settings.ERP_BC_TENANT_ID,
            "environment": settings.ERP_BC_ENVIRONMENT,
            "company_id": settings.ERP_BC_COMPANY_ID,
            "token_url": settings.ERP_BC_TOKEN_URL,
        }
        return {key: value for key, value in options.items() if value}
    return {}


def connection_get_default() -> ErpConnection:
    """The connection described by the ERP_* settings, created or refreshed to match them.

    Read first, written only when the settings changed: every order submit enqueues through here, and
    an ``update_or_create`` would lock this one row for each of them."""
    wanted = {
        "kind": settings.ERP_KIND,
        "url": settings.ERP_URL,
        "database": settings.ERP_DATABASE,
        "username": settings.ERP_USERNAME,
        "concurrency_limit": settings.ERP_CONCURRENCY_LIMIT,
        "options": connection_options(settings.ERP_KIND),
    }
    connection = ErpConnection.objects.filter(name="default").first()
    if connection is not None and all(getattr(connection, key) == value for key, value in wanted.items()):
        return connection
    connection, _ = ErpConnection.objects.update_or_create(name="default", defaults=wanted)
    return connection


def capabilities_get(connection: ErpConnection | None = None) -> Capabilities:
    """What the connection's ERP (default: the one the ERP_* settings describe) can do through its API."""
    return capabilities_for(connection.kind if connection is not None else settings.ERP_KIND)


# --- Events ----------------------------------------------------------------------------------------------


def event_record(
    *,
    connection: ErpConnection,
    target: models.Model,
    direction: str,
    outcome: str,
    message: str = "",
    job: SyncJob | None = None,
    erp_reference: str = "",
) -> SyncEvent:
    return SyncEvent.objects.create(
        connection=connection,
        target_type=ContentType.objects.get_for_model(target),
        target_id=str(target.pk),
        direction=direction,
        outcome=outcome,
        message=message,
        job=job,
        erp_reference=erp_reference,
    )


# --- Enqueue ---------------------------------------------------------------------------------------------


def job_enqueue(
    *, kind: str, target: models.Model, idempotency_key: str, connection: ErpConnection | None = None
) -> SyncJob:
    """Write an outbox row in the caller's transaction; a dispatcher run is requested on commit.

    The same idempotency key twice returns the existing job instead of a second one.
    """
    connection = connection or connection_get_default()
    job, created = SyncJob.objects.get_or_create(
        connection=connection,
        idempotency_key=idempotency_key,
        defaults={
            "kind": kind,
            "target_type": ContentType.objects.get_for_model(target),
            "target_id": str(target.pk),
            "next_attempt_at": timezone.now(),
            "max_attempts": settings.ERP_JOB_MAX_ATTEMPTS,
        },
    )
    if created:
        event_record(
            connection=connection,
            target=target,
            direction=SyncEvent.Direction.OUTBOUND,
            outcome=SyncEvent.Outcome.QUEUED,
            message=f"{kind} queued",
            job=job,
        )
        if settings.ERP_SYNC_ENABLED:
            transaction.on_commit(dispatch_request)
    return job


# --- Claim ---------------------------------------------------------------------------------------------


def worker_name() -> str:
    """This process, as written on the jobs it claims: ``host:pid`` (a cluster on the same host checks the
    pid to take back a dead process's jobs at once)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _lease() -> timedelta:
    return timedelta(seconds=settings.ERP_JOB_LEASE_SECONDS)


def _lost_call_wait() -> timedelta:
    """How long after its lease ran out a lost claim still waits. Its worker renewed the lease every third
    of it, so it died at most a third of a lease after its last renewal (the lease's end less two thirds),
    and the ERP call it was making ends within ERP_LOST_CALL_SECONDS of that: only then may a retry look
    the record up, or it would not see what that call is still writing and create it a second time."""
    lease = settings.ERP_JOB_LEASE_SECONDS
    return timedelta(seconds=max(0.0, settings.ERP_LOST_CALL_SECONDS - lease * 2 / 3))


def _claim_expired(now: datetime) -> models.Q:
    """In flight, but its worker stopped renewing the claim and the last ERP call it can have made has
    ended (rows from before leases have none)."""
    return models.Q(status=SyncJob.Status.IN_FLIGHT) & (
        models.Q(lease_expires_at__lt=now - _lost_call_wait()) | models.Q(lease_expires_at__isnull=True)
    )


def _due(now: datetime) -> models.Q:
    return models.Q(status=SyncJob.Status.PENDING, next_attempt_at__lte=now) | _claim_expired(now)


def jobs_due_exist(*, since: datetime | None = None) -> bool:
    """Whether any job is due; with ``since``, only jobs that were due by then (nobody took them)."""
    return SyncJob.objects.filter(_due(since or timezone.now())).exists()


def jobs_claim_due(*, connection: ErpConnection, limit: int, worker: str | None = None) -> list[SyncJob]:
    """Take up to ``limit`` due jobs for this worker; two workers never take the same job.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets concurrent dispatchers pass each other's rows.
    SQLite: the IMMEDIATE transaction takes the database write lock at BEGIN, so claims serialise.
    A job whose worker died is due again once its lease expired. Each claim is an attempt, so a job
    whose worker was lost on its last allowed attempt is dead-lettered here instead of claimed again:
    attempts never pass ``max_attempts``.
    """
    now = timezone.now()
    worker = worker or worker_name()
    with transaction.atomic():
        due = SyncJob.objects.filter(_due(now), connection=connection).order_by("next_attempt_at", "id")
        if db_connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        found = list(due[:limit])
        if not found:
            return []
        spent = [job for job in found if job.attempts >= job.max_attempts]
        chosen = [job.pk for job in found if job.attempts < job.max_attempts]
        for job in spent:
            _bury_lost(job, now)
        if chosen:
            SyncJob.objects.filter(pk__in=chosen).update(
                status=SyncJob.Status.IN_FLIGHT,
                claimed_at=now,
                claimed_by=worker,
                lease_expires_at=now + _lease(),
                attempts=models.F("attempts") + 1,
                updated_at=now,
            )
    by_pk = SyncJob.objects.select_related("connection", "target_type").in_bulk(chosen)
    return [by_pk[pk] for pk in chosen]


def _bury_lost(job: SyncJob, now: datetime) -> None:
    previous = f" Last error before that: {job.last_error}" if job.last_error else ""
    job.status = SyncJob.Status.DEAD
    job.last_error = (
        f"Its worker stopped during attempt {job.attempts} of {job.max_attempts}, the last one.{previous}"
    )[:5000]
    job.last_error_kind = job.last_error_kind or SyncJob.ErrorKind.INTERNAL
    job.finished_at = now
    job.lease_expires_at = None
    job.save(update_fields=["status", "last_error", "last_error_kind", "finished_at", "lease_expires_at"])
    _event(job, SyncEvent.Outcome.DEAD, job.last_error)


def leases_renew(*, worker: str) -> int:
    """Keep this worker's claims alive (called every third of the lease while it works)."""
    now = timezone.now()
    return SyncJob.objects.filter(status=SyncJob.Status.IN_FLIGHT, claimed_by=worker).update(
        lease_expires_at=now + _lease()
    )


@transaction.atomic
def jobs_release(*, worker: str) -> int:
    """A stopping worker hands back what it holds, unfinished, the attempt not counted: due once the ERP
    call the stop may have cut short has ended there (ERP_LOST_CALL_SECONDS), so that the retry's look-up
    sees what it did (every push looks its record up before creating it)."""
    now = timezone.now()
    return SyncJob.objects.filter(status=SyncJob.Status.IN_FLIGHT, claimed_by=worker).update(
        status=SyncJob.Status.PENDING,
        claimed_by="",
        claimed_at=None,
        lease_expires_at=None,
        next_attempt_at=now + timedelta(seconds=settings.ERP_LOST_CALL_SECONDS),
        attempts=Greatest(models.F("attempts") - 1, 0),
        updated_at=now,
    )


def claims_of_dead_workers_expire(*, host: str | None = None) -> int:
    """Jobs held by processes of this host that no longer exist are due again as soon as the ERP call
    their worker may have been making when it died has ended (it died by now: ERP_LOST_CALL_SECONDS from
    now at the latest), not a whole lease later."""
    host = host or socket.gethostname()
    holders = set(
        SyncJob.objects.filter(status=SyncJob.Status.IN_FLIGHT, claimed_by__startswith=f"{host}:")
        .values_list("claimed_by", flat=True)
        .distinct()
    )
    dead = [
        holder
        for holder in holders
        if holder.rsplit(":", 1)[1].isdigit() and not process_alive(int(holder.rsplit(":", 1)[1]))
    ]
    if not dead:
        return 0
    # Due once the lease's end is _lost_call_wait() past: this end makes that ERP_LOST_CALL_SECONDS from now.
    died_by = timezone.now() + timedelta(seconds=settings.ERP_LOST_CALL_SECONDS) - _lost_call_wait()
    return SyncJob.objects.filter(
        status=SyncJob.Status.IN_FLIGHT, claimed_by__in=dead, lease_expires_at__gt=died_by
    ).update(lease_expires_at=died_by)


class LeaseKeeper:
    """Renews a worker's claims from a background thread while the worker is busy with the ERP."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-keeper-{worker}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        interval = max(0.5, settings.ERP_JOB_LEASE_SECONDS / 3)
        try:
            while not self._stop.wait(interval):
                try:
                    leases_renew(worker=self.worker)
                except Exception:
                    logger.exception("Could not renew the claims of %s", self.worker)
        finally:
            db_connection.close()  # this thread's own connection


# --- Outcomes --------------------------------------------------------------------------------------------


def backoff_delay(attempt: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: uniform in [base/2, min(cap, base * 2^(attempt-1))]."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    base = settings.ERP_BACKOFF_BASE_SECONDS
    ceiling = min(settings.ERP_BACKOFF_MAX_SECONDS, base * (2 ** max(0, attempt - 1)))
    return timedelta(seconds=rng.uniform(min(base / 2, ceiling), ceiling))


def _target(job: SyncJob) -> models.Model | None:
    model = job.target_type.model_class()
    if model is None:
        return None
    return model._default_manager.filter(pk=job.target_id).first()


def _event(job: SyncJob, outcome: str, message: str, erp_reference: str = "") -> None:
    target = _target(job)
    if target is not None:
        event_record(
            connection=job.connection,
            target=target,
            direction=SyncEvent.Direction.OUTBOUND,
            outcome=outcome,
            message=message,
            job=job,
            erp_reference=erp_reference,
        )


def _still_ours(job: SyncJob) -> bool:
    """Lock the job's row if this worker still holds the claim. A worker whose lease ran out (it was
    taken for dead) must not write an outcome over the next worker's."""
    return (
        SyncJob.objects.select_for_update()
        .filter(pk=job.pk, status=SyncJob.Status.IN_FLIGHT, claimed_by=job.claimed_by)
        .values_list("pk", flat=True)
        .first()
        is not None
    )


def describe_exception(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:5000]


def job_succeed(
    *, job: SyncJob, erp_reference: str, message: str, apply: Callable[[], None] | None = None
) -> bool:
    """Record success; ``apply`` writes the ERP's answer onto the record in the same transaction.

    If ``apply`` raises, nothing of it is kept and the job fails with the error (retried with backoff,
    then dead); False then, and False when the claim was lost to another worker.
    """
    try:
        with transaction.atomic():
            if not _still_ours(job):
                logger.warning("Job %s was taken by another worker; its outcome is theirs", job.pk)
                return False
            if apply is not None:
                apply()
            now = timezone.now()
            SyncJob.objects.filter(pk=job.pk).update(
                status=SyncJob.Status.SUCCEEDED,
                erp_reference=erp_reference,
                finished_at=now,
                last_error="",
                last_error_kind=SyncJob.ErrorKind.NONE,
                lease_expires_at=None,
                updated_at=now,
            )
            job.status, job.erp_reference, job.finished_at = SyncJob.Status.SUCCEEDED, erp_reference, now
            job.last_error, job.last_error_kind, job.lease_expires_at = "", SyncJob.ErrorKind.NONE, None
            _event(job, SyncEvent.Outcome.SUCCEEDED, message, erp_reference)
    except Exception as exc:
        logger.exception("Recording the outcome of job %s failed", job.pk)
        job_fail(job=job, error=JobHandlerError(describe_exception(exc)))
        return False
    return True


@transaction.atomic
def job_fail(*, job: SyncJob, error: ErpError) -> SyncJob:
    """A business error waits for a person; a transient one (or the portal's own error) is retried with
    backoff, then dead-lettered. Attempts were counted at the claim."""
    if not _still_ours(job):
        logger.warning("Job %s was taken by another worker; not recording %s", job.pk, error.message)
        return job
    now = timezone.now()
    job.last_error = error.message[:5000]
    if isinstance(error, JobHandlerError):
        transient_kind = SyncJob.ErrorKind.INTERNAL
    elif isinstance(error, ErpUnavailableError):
        transient_kind = SyncJob.ErrorKind.UNAVAILABLE
    else:
        transient_kind = SyncJob.ErrorKind.TRANSIENT
    if isinstance(error, ErpBusinessError):
        job.status = SyncJob.Status.FAILED
        job.last_error_kind = SyncJob.ErrorKind.BUSINESS
        job.finished_at = now
        outcome = SyncEvent.Outcome.FAILED
    elif job.attempts >= job.max_attempts:
        job.status = SyncJob.Status.DEAD
        job.last_error_kind = transient_kind
        job.finished_at = now
        outcome = SyncEvent.Outcome.DEAD
    else:
        job.status = SyncJob.Status.PENDING
        job.last_error_kind = transient_kind
        job.next_attempt_at = now + backoff_delay(job.attempts)
        outcome = SyncEvent.Outcome.RETRYING
    job.claimed_at = None
    job.lease_expires_at = None
    job.save(
        update_fields=[
            "status",
            "last_error",
            "last_error_kind",
            "finished_at",
            "next_attempt_at",
            "claimed_at",
            "lease_expires_at",
            "updated_at",
        ]
    )
    suffix = (
        "" if outcome != SyncEvent.Outcome.RETRYING else f" (attempt {job.attempts} of {job.max_attempts})"
    )
    _event(job, outcome, job.last_error + suffix)
    return job


@transaction.atomic
def job_defer(*, job: SyncJob, reason: str, seconds: float) -> SyncJob:
    """The job must wait for other work of the portal (say an order for its quote's own push), not for
    the ERP: pending again in ``seconds``, this claim not counted as an attempt, so waiting never
    dead-letters it."""
    if not _still_ours(job):
        return job
    now = timezone.now()
    job.status = SyncJob.Status.PENDING
    job.attempts = max(0, job.attempts - 1)
    job.next_attempt_at = now + timedelta(seconds=seconds)
    job.last_error = reason[:5000]
    job.last_error_kind = SyncJob.ErrorKind.TRANSIENT
    job.claimed_at = None
    job.claimed_by = ""
    job.lease_expires_at = None
    job.save(
        update_fields=[
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "last_error_kind",
            "claimed_at",
            "claimed_by",
            "lease_expires_at",
            "updated_at",
        ]
    )
    _event(job, SyncEvent.Outcome.RETRYING, f"{job.last_error} (waiting; no attempt spent)")
    return job


def _waiting_on_outage(connection: ErpConnection, now: datetime) -> models.QuerySet[SyncJob]:
    return SyncJob.objects.filter(
        connection=connection,
        status=SyncJob.Status.PENDING,
        last_error_kind=SyncJob.ErrorKind.UNAVAILABLE,
        next_attempt_at__gt=now,
    )


def jobs_wake_after_outage(*, connection: ErpConnection) -> int:
    """The ERP answers again: jobs backing off because it could not be reached are due now."""
    now = timezone.now()
    return _waiting_on_outage(connection, now).update(next_attempt_at=now, updated_at=now)


def jobs_waiting_on_outage(*, connection: ErpConnection) -> bool:
    return _waiting_on_outage(connection, timezone.now()).exists()


@transaction.atomic
def job_retry(*, job: SyncJob) -> SyncJob:
    """A person asks for another try now (a failed or dead job, or a pending one waiting on backoff).

    A failed or dead job gets a fresh budget of attempts: a person decided it is worth trying again."""
    job = SyncJob.objects.select_for_update().get(pk=job.pk)
    if job.status in (SyncJob.Status.SUCCEEDED, SyncJob.Status.IN_FLIGHT):
        raise InvalidJobAction(f"A {job.get_status_display().lower()} job cannot be retried.")
    if job.status in (SyncJob.Status.DEAD, SyncJob.Status.FAILED):
        job.attempts = 0
    job.status = SyncJob.Status.PENDING
    job.next_attempt_at = timezone.now()
    job.finished_at = None
    job.save(update_fields=["status", "attempts", "next_attempt_at", "finished_at", "updated_at"])
    if settings.ERP_SYNC_ENABLED:
        transaction.on_commit(dispatch_request)
    return job


DISPATCH_REQUESTED_KEY = "erp:dispatch-requested"


def dispatch_request(*, force: bool = False) -> bool:
    """Ask the workers for a dispatcher run (after commit), unless one is already asked for and has not
    started: that run will claim this work too. One task per submit would flood the queue and keep the
    pulls and heartbeats waiting behind hundreds of dispatcher runs. A run clears the request when it
    starts (``dispatch_request_taken``); a lost request expires after ERP_DISPATCH_REQUEST_TTL_SECONDS,
    and the waker dispatches due work meanwhile. ``force``: a cluster starting after a crash, whose lost
    tasks may have been the pending request. True when a task was enqueued."""
    ttl = settings.ERP_DISPATCH_REQUEST_TTL_SECONDS
    if force:
        cache.set(DISPATCH_REQUESTED_KEY, 1, timeout=ttl)
    elif not cache.add(DISPATCH_REQUESTED_KEY, 1, timeout=ttl):
        return False
    async_task("apps.erp.tasks.dispatch", q_options={"group": "erp"})
    return True


def _slot_key(index: int) -> str:
    return f"erp:dispatcher:{index}"


def dispatcher_slot_take() -> str | None:
    """One of ERP_DISPATCHERS places for a dispatcher run, or None when all are taken. A run loops until
    nothing is due, so more runs than that only queue up against the ERP while the workers they hold are
    missing for pulls and heartbeats. A place held by a dead process of this host is taken over; one
    held on another host expires after the longest run."""
    me = worker_name()
    host = me.rsplit(":", 1)[0]
    ttl = int(settings.ERP_DISPATCH_MAX_SECONDS) + 30
    for index in range(settings.ERP_DISPATCHERS):
        key = _slot_key(index)
        if cache.add(key, me, timeout=ttl):
            return key
        holder = str(cache.get(key) or "")
        holder_host, _, pid = holder.rpartition(":")
        if holder_host == host and pid.isdigit() and not process_alive(int(pid)):
            cache.set(key, me, timeout=ttl)
            return key
    return None


def dispatcher_slot_release(key: str) -> None:
    if cache.get(key) == worker_name():
        cache.delete(key)


def dispatch_request_taken() -> None:
    """A dispatcher run starts: work committed from now on needs a new request."""
    cache.delete(DISPATCH_REQUESTED_KEY)


# --- Dispatch --------------------------------------------------------------------------------------------


class WorkerStopping(BaseException):
    """SIGTERM reached a worker while it dispatched: what it holds is handed back, then it exits."""


@dataclass
class DispatchReport:
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    retrying: int = 0
    dead: int = 0
    released: int = 0
    more_due: bool = False


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """In a worker's main thread, SIGTERM (systemd stopping the cluster's process group) interrupts the
    dispatcher so it can hand back its claims instead of dying with them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise WorkerStopping

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _unfinished(batch: list[SyncJob], worker: str) -> list[SyncJob]:
    still = set(
        SyncJob.objects.filter(
            pk__in=[job.pk for job in batch], status=SyncJob.Status.IN_FLIGHT, claimed_by=worker
        ).values_list("pk", flat=True)
    )
    return [job for job in batch if job.pk in still]


def _run_batch(handler: JobHandler, connector: Connector, batch: list[SyncJob], worker: str) -> None:
    """Every job of the batch ends with an outcome, whatever the handler does. If it raises, the jobs it
    had not finished are tried again one by one, so the error ends only the job that causes it."""
    try:
        handler(connector, batch)
    except Exception as exc:
        logger.exception("ERP job handler failed on a batch of %d %s job(s)", len(batch), batch[0].kind)
        unfinished = _unfinished(batch, worker)
        if len(batch) > 1:
            for job in unfinished:
                _run_batch(handler, connector, [job], worker)
        else:
            for job in unfinished:
                job_fail(job=job, error=JobHandlerError(describe_exception(exc)))
        return
    for job in _unfinished(batch, worker):
        job_fail(job=job, error=JobHandlerError("The handler ended without an outcome for this job."))


def dispatch(
    *,
    connection: ErpConnection | None = None,
    connector: Connector | None = None,
    max_seconds: float | None = None,
) -> DispatchReport:
    """Claim due jobs, group them by kind, hand each group to its handler in batches; loop until drained
    or ``max_seconds`` (ERP_DISPATCH_MAX_SECONDS) have passed, then say whether more is due."""
    connections = [connection] if connection else list(ErpConnection.objects.filter(is_active=True))
    report = DispatchReport()
    worker = worker_name()
    limit = settings.ERP_DISPATCH_MAX_SECONDS if max_seconds is None else max_seconds
    deadline = time.monotonic() + limit
    try:
        with _stop_on_sigterm(), LeaseKeeper(worker):
            for conn in connections:
                _dispatch_connection(conn, connector, worker, report, deadline)
    except (WorkerStopping, TimeoutException):
        if not db_connection.in_atomic_block:
            db_connection.close()  # a query the signal interrupted leaves nothing behind
        report.released = jobs_release(worker=worker)
        logger.warning("Dispatcher stopping: %d job(s) handed back", report.released)
        raise
    return report


def _batch_key(conn: ErpConnection) -> str:
    return f"erp:batch-limit:{conn.pk}"


def batch_limit(conn: ErpConnection) -> int:
    """How many jobs one claim takes: ERP_PUSH_BATCH_SIZE, halved each time a whole batch timed out in
    an ERP too busy to answer it, doubled back after each batch the ERP answered (shared by the workers
    through the cache)."""
    size = settings.ERP_PUSH_BATCH_SIZE
    return max(1, min(size, cache.get(_batch_key(conn), size)))


def _batch_limit_set(conn: ErpConnection, limit: int) -> None:
    cache.set(_batch_key(conn), max(1, min(settings.ERP_PUSH_BATCH_SIZE, limit)), timeout=3600)


def _overloaded(jobs: list[SyncJob]) -> bool:
    """The batch failed on the ERP's time (a timeout or busy answer), not because it is unreachable."""
    return SyncJob.objects.filter(
        pk__in=[job.pk for job in jobs], last_error_kind=SyncJob.ErrorKind.TRANSIENT
    ).exists()


def _dispatch_connection(
    conn: ErpConnection,
    connector: Connector | None,
    worker: str,
    report: DispatchReport,
    deadline: float,
) -> None:
    own_connector = connector is None
    active = connector or connector_for(conn)
    try:
        while True:
            if time.monotonic() >= deadline:
                report.more_due = jobs_due_exist()
                return
            limit = batch_limit(conn)
            jobs = jobs_claim_due(connection=conn, limit=limit, worker=worker)
            if not jobs:
                return
            report.claimed += len(jobs)
            by_kind: dict[str, list[SyncJob]] = defaultdict(list)
            for job in jobs:
                by_kind[job.kind].append(job)
            for kind, batch in by_kind.items():
                handler = registry.handler_for(kind)
                if handler is None:
                    for job in batch:
                        job_fail(job=job, error=ErpBusinessError(f"No handler for job kind {kind!r}."))
                    continue
                _run_batch(handler, active, batch, worker)
            ended = Counter(
                SyncJob.objects.filter(pk__in=[job.pk for job in jobs]).values_list("status", flat=True)
            )
            succeeded = ended[SyncJob.Status.SUCCEEDED]
            failed, dead = ended[SyncJob.Status.FAILED], ended[SyncJob.Status.DEAD]
            retrying = len(jobs) - succeeded - failed - dead
            report.succeeded += succeeded
            report.failed += failed
            report.dead += dead
            report.retrying += retrying
            if succeeded or failed:
                jobs_wake_after_outage(connection=conn)  # the ERP answers: what waited on it goes now
                _batch_limit_set(conn, limit * 2)
            if retrying and not succeeded and not failed:
                if _overloaded(jobs):
                    _batch_limit_set(conn, len(jobs) // 2)
                return  # the ERP is failing transiently: stop hammering it, backoff decides the next try
    finally:
        if own_connector:
            active.close()


# --- Freshness: page versions per stream, the watcher's lease and its ERP question count ---------------

STREAM_VERSION_KEY = "erp:stream-version:{}"
WATCH_LEASE_KEY = "erp:watch:lease"
WATCH_CALLS_KEY = "erp:watch:erp-calls"


def stream_version_bump(stream: str) -> None:
    """A pull changed records of ``stream``: open pages showing it refresh on their next cheap poll."""
    key = STREAM_VERSION_KEY.format(stream)
    cache.add(key, 0, timeout=None)
    try:
        cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=None)


def watch_lease_take(owner: str, seconds: float) -> bool:
    """The watcher's lease: one holder in the whole deployment (through the cache), renewed by each look;
    a dead holder's lease expires after ``seconds``."""
    ttl = max(1, int(seconds + 0.999))
    if cache.add(WATCH_LEASE_KEY, owner, timeout=ttl):
        return True
    if cache.get(WATCH_LEASE_KEY) == owner:
        cache.set(WATCH_LEASE_KEY, owner, timeout=ttl)
        return True
    return False


def watch_lease_release(owner: str) -> None:
    if cache.get(WATCH_LEASE_KEY) == owner:
        cache.delete(WATCH_LEASE_KEY)


def watch_calls_count(calls: int) -> None:
    """The watcher asked the ERP ``calls`` questions (the idle rate is this counter over time)."""
    cache.add(WATCH_CALLS_KEY, 0, timeout=None)
    try:
        cache.incr(WATCH_CALLS_KEY, calls)
    except ValueError:
        cache.set(WATCH_CALLS_KEY, calls, timeout=None)
