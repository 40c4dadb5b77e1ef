"""The outbox and its dispatcher: jobs written with the change, claimed safely, pushed in batches."""

from __future__ import annotations

import logging
import os
import random
import socket
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection as db_connection
from django.db import models, transaction
from django.utils import timezone
from django_q.tasks import async_task

from apps.erp.connectors import connector_for
from apps.erp.connectors.base import Connector, ErpBusinessError, ErpError
from apps.erp.exceptions import InvalidJobAction
from apps.erp.models import ErpConnection, SyncEvent, SyncJob

logger = logging.getLogger(__name__)


# --- Connection ------------------------------------------------------------------------------------------


def connection_get_default() -> ErpConnection:
    """The connection described by the ERP_* settings, created or refreshed to match them."""
    connection, _ = ErpConnection.objects.update_or_create(
        name="default",
        defaults={
            "kind": settings.ERP_KIND,
            "url": settings.ERP_URL,
            "database": settings.ERP_DATABASE,
            "username": settings.ERP_USERNAME,
            "concurrency_limit": settings.ERP_CONCURRENCY_LIMIT,
        },
    )
    return connection


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
            transaction.on_commit(lambda: async_task("apps.erp.tasks.dispatch", q_options={"group": "erp"}))
    return job


# --- Claim -----------------------------------------------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _due(now: datetime) -> models.Q:
    lease_expired = now - timedelta(seconds=settings.ERP_JOB_LEASE_SECONDS)
    return models.Q(status=SyncJob.Status.PENDING, next_attempt_at__lte=now) | models.Q(
        status=SyncJob.Status.IN_FLIGHT, claimed_at__lt=lease_expired
    )


def jobs_claim_due(*, connection: ErpConnection, limit: int, worker: str | None = None) -> list[SyncJob]:
    """Take up to ``limit`` due jobs for this worker; two workers never take the same job.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets concurrent dispatchers pass each other's rows.
    SQLite: the IMMEDIATE transaction takes the database write lock at BEGIN, so claims serialise.
    A job whose worker died mid-flight is claimable again once its lease has expired.
    """
    now = timezone.now()
    with transaction.atomic():
        due = SyncJob.objects.filter(_due(now), connection=connection).order_by("next_attempt_at", "id")
        if db_connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        jobs = list(due[:limit])
        if not jobs:
            return []
        SyncJob.objects.filter(pk__in=[job.pk for job in jobs]).update(
            status=SyncJob.Status.IN_FLIGHT,
            claimed_at=now,
            claimed_by=worker or worker_name(),
            attempts=models.F("attempts") + 1,
            updated_at=now,
        )
    for job in jobs:
        job.refresh_from_db()
    return jobs


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


@transaction.atomic
def job_succeed(
    *, job: SyncJob, erp_reference: str, message: str, apply: Callable[[], None] | None = None
) -> None:
    """Record success; ``apply`` writes the ERP's answer (e.g. its id) onto the record, atomically."""
    if apply is not None:
        apply()
    now = timezone.now()
    job.status = SyncJob.Status.SUCCEEDED
    job.erp_reference = erp_reference
    job.finished_at = now
    job.last_error = ""
    job.last_error_kind = SyncJob.ErrorKind.NONE
    job.save(
        update_fields=[
            "status",
            "erp_reference",
            "finished_at",
            "last_error",
            "last_error_kind",
            "updated_at",
        ]
    )
    target = _target(job)
    if target is not None:
        event_record(
            connection=job.connection,
            target=target,
            direction=SyncEvent.Direction.OUTBOUND,
            outcome=SyncEvent.Outcome.SUCCEEDED,
            message=message,
            job=job,
            erp_reference=erp_reference,
        )


@transaction.atomic
def job_fail(*, job: SyncJob, error: ErpError) -> SyncJob:
    """A business error waits for a person; a transient one is retried with backoff, then dead-lettered."""
    now = timezone.now()
    job.last_error = error.message[:5000]
    if isinstance(error, ErpBusinessError):
        job.status = SyncJob.Status.FAILED
        job.last_error_kind = SyncJob.ErrorKind.BUSINESS
        job.finished_at = now
        outcome = SyncEvent.Outcome.FAILED
    elif job.attempts >= job.max_attempts:
        job.status = SyncJob.Status.DEAD
        job.last_error_kind = SyncJob.ErrorKind.TRANSIENT
        job.finished_at = now
        outcome = SyncEvent.Outcome.DEAD
    else:
        job.status = SyncJob.Status.PENDING
        job.last_error_kind = SyncJob.ErrorKind.TRANSIENT
        job.next_attempt_at = now + backoff_delay(job.attempts)
        outcome = SyncEvent.Outcome.RETRYING
    job.claimed_at = None
    job.save(
        update_fields=[
            "status",
            "last_error",
            "last_error_kind",
            "finished_at",
            "next_attempt_at",
            "claimed_at",
            "updated_at",
        ]
    )
    target = _target(job)
    if target is not None:
        suffix = (
            ""
            if outcome != SyncEvent.Outcome.RETRYING
            else f" (attempt {job.attempts} of {job.max_attempts})"
        )
        event_record(
            connection=job.connection,
            target=target,
            direction=SyncEvent.Direction.OUTBOUND,
            outcome=outcome,
            message=job.last_error + suffix,
            job=job,
        )
    return job


@transaction.atomic
def job_retry(*, job: SyncJob) -> SyncJob:
    """A person asks for another try now (a failed or dead job, or a pending one waiting on backoff)."""
    job = SyncJob.objects.select_for_update().get(pk=job.pk)
    if job.status in (SyncJob.Status.SUCCEEDED, SyncJob.Status.IN_FLIGHT):
        raise InvalidJobAction(f"A {job.get_status_display().lower()} job cannot be retried.")
    if job.status == SyncJob.Status.DEAD:
        job.attempts = 0  # replay: a fresh budget of attempts
    job.status = SyncJob.Status.PENDING
    job.next_attempt_at = timezone.now()
    job.finished_at = None
    job.save(update_fields=["status", "attempts", "next_attempt_at", "finished_at", "updated_at"])
    if settings.ERP_SYNC_ENABLED:
        transaction.on_commit(lambda: async_task("apps.erp.tasks.dispatch", q_options={"group": "erp"}))
    return job


# --- Dispatch --------------------------------------------------------------------------------------------

JobHandler = Callable[[Connector, list[SyncJob]], None]


@dataclass
class DispatchReport:
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    retrying: int = 0
    dead: int = 0


def _handlers() -> dict[str, JobHandler]:
    from apps.erp.outbound import HANDLERS

    return HANDLERS


def dispatch(
    *, connection: ErpConnection | None = None, connector: Connector | None = None
) -> DispatchReport:
    """Claim due jobs, group them by kind, hand each group to its handler in batches; loop until drained."""
    connections = [connection] if connection else list(ErpConnection.objects.filter(is_active=True))
    report = DispatchReport()
    handlers = _handlers()
    for conn in connections:
        own_connector = connector is None
        active = connector or connector_for(conn)
        try:
            while jobs := jobs_claim_due(connection=conn, limit=settings.ERP_PUSH_BATCH_SIZE):
                report.claimed += len(jobs)
                by_kind: dict[str, list[SyncJob]] = defaultdict(list)
                for job in jobs:
                    by_kind[job.kind].append(job)
                for kind, batch in by_kind.items():
                    handler = handlers.get(kind)
                    if handler is None:
                        for job in batch:
                            job_fail(job=job, error=ErpBusinessError(f"No handler for job kind {kind!r}."))
                        continue
                    handler(active, batch)
                statuses = SyncJob.objects.filter(pk__in=[job.pk for job in jobs]).values_list(
                    "status", flat=True
                )
                for status in statuses:
                    if status == SyncJob.Status.SUCCEEDED:
                        report.succeeded += 1
                    elif status == SyncJob.Status.FAILED:
                        report.failed += 1
                    elif status == SyncJob.Status.DEAD:
                        report.dead += 1
                    else:
                        report.retrying += 1
                if report.retrying and report.succeeded == 0 and report.failed == 0:
                    break  # the ERP is failing transiently: stop hammering it, backoff decides the next try
        finally:
            if own_connector:
                active.close()
    return report
