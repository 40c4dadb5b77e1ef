"""Reconciliation: a keyed full comparison of what the portal holds against what the ERP holds.

Cursor pulls cannot see a record deleted in the ERP, a sale edited by hand, or a push that succeeded in
the ERP while the portal believes it failed. A run reads every ERP record of an entity in pages (the
connector's ``reconcile_*`` read), finds the portal rows of each page in one query, and classes every
difference (``Drift.Kind``). What it has seen is kept as marks in the database, not in memory, so memory
stays flat however many rows it compares, and a run stopped half-way resumes after its last committed
page. The domain apps say what to compare (``registry.ReconcileSpec``); the engine knows no domain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import BigIntegerField, Count
from django.db.models.functions import Cast
from django.utils import timezone
from django_q.tasks import async_task

from apps.erp import alerts, inbound, registry, services
from apps.erp.connectors import connector_for
from apps.erp.connectors.base import (
    Connector,
    ErpBusinessError,
    ErpError,
    Page,
    ReconcileRecord,
    reconcile_text,
)
from apps.erp.exceptions import InvalidDriftAction
from apps.erp.models import Drift, ErpConnection, ReconcileMark, ReconcileRun, SyncEvent, SyncJob
from apps.erp.registry import ReconcileSpec
from apps.erp.services import job_enqueue, job_fail, job_succeed

logger = logging.getLogger(__name__)

REPULL = "reconcile.repull"
OPEN = (Drift.Status.OPEN, Drift.Status.FIXING)


# --- Runs --------------------------------------------------------------------------------------------------


def reconcile_request(*, entity: str, requested_by: User | None = None) -> None:
    """Queue a run of one entity in the background (the drift page's "Run now")."""
    registry.reconcile_get(entity)  # an unknown entity fails here, not in the worker
    async_task(
        "apps.erp.tasks.reconcile",
        entity,
        requested_by.pk if requested_by else None,
        q_options={"group": "erp"},
    )


def reconcile_all(*, connection: ErpConnection | None = None) -> list[ReconcileRun]:
    """Every registered entity, one after the other (the nightly schedule)."""
    return [reconcile_run(entity=spec.entity, connection=connection) for spec in registry.reconciliations()]


def _lease() -> timedelta:
    return timedelta(seconds=settings.ERP_STREAM_LEASE_SECONDS)


def _run_take(connection: ErpConnection, entity: str, requested_by: User | None) -> ReconcileRun | None:
    """The run to work on: one left half-way (failed, or its worker gone) resumes; None while another
    worker holds a running one."""
    now = timezone.now()
    with transaction.atomic():
        unfinished = (
            ReconcileRun.objects.select_for_update()
            .filter(connection=connection, entity=entity)
            .exclude(status=ReconcileRun.Status.DONE)
            .order_by("-started_at", "-id")
            .first()
        )
        if unfinished is not None:
            held = unfinished.status == ReconcileRun.Status.RUNNING and (
                unfinished.lease_expires_at is not None and unfinished.lease_expires_at > now
            )
            if held:
                return None
            unfinished.status = ReconcileRun.Status.RUNNING
            unfinished.lease_expires_at = now + _lease()
            unfinished.last_error = ""
            unfinished.save(update_fields=["status", "lease_expires_at", "last_error", "updated_at"])
            return unfinished
        return ReconcileRun.objects.create(
            connection=connection,
            entity=entity,
            requested_by=requested_by,
            started_at=now,
            lease_expires_at=now + _lease(),
        )


def reconcile_run(
    *,
    entity: str,
    connection: ErpConnection | None = None,
    connector: Connector | None = None,
    requested_by: User | None = None,
    page_size: int | None = None,
    after_page: Callable[[ReconcileRun], None] | None = None,
) -> ReconcileRun:
    """Compare one entity, page by page, and record what differs. Returns the run (running: another
    worker has it; failed: the ERP stopped answering, and the next run resumes where this one stopped)."""
    spec = registry.reconcile_get(entity)
    connection = connection or services.connection_get_default()
    run = _run_take(connection, entity, requested_by)
    if run is None:
        return ReconcileRun.objects.filter(connection=connection, entity=entity).first()  # type: ignore[return-value]
    limit = page_size or settings.ERP_PULL_PAGE_SIZE
    own = connector is None
    active = connector or connector_for(connection)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"erp-reconcile-{entity}") as prefetch:
            upcoming = prefetch.submit(spec.read, active, run.position, limit)
            while True:
                page: Page[Any] = upcoming.result()
                if page.has_more:
                    upcoming = prefetch.submit(spec.read, active, page.next, limit)
                with transaction.atomic():
                    _compare_page(run, spec, page.records)
                    run.position = page.next
                    run.erp_rows += len(page.records)
                    run.lease_expires_at = timezone.now() + _lease()
                    run.save(update_fields=["position", "erp_rows", "lease_expires_at", "updated_at"])
                if after_page is not None:
                    after_page(run)
                if not page.has_more:
                    break
        with transaction.atomic():
            _finish(run, spec)
    except ErpError as exc:
        run.status = ReconcileRun.Status.FAILED
        run.last_error = exc.message[:5000]
        run.lease_expires_at = None
        run.save(update_fields=["status", "last_error", "lease_expires_at", "updated_at"])
        logger.warning("Reconciliation of %s stopped: %s", entity, exc.message)
    finally:
        if own:
            active.close()
    return run


def _compare_page(run: ReconcileRun, spec: ReconcileSpec, records: list[ReconcileRecord]) -> None:
    portal = spec.lookup(records)
    marks = []
    for record in records:
        row = portal.get(record.key)
        marks.append(
            ReconcileMark(
                run=run, key=record.key, reference=record.reference, portal_pk=str(row.pk) if row else ""
            )
        )
        if row is None:
            if spec.imported and record.active and (spec.expected is None or spec.expected(record)):
                _drift_seen(
                    run,
                    spec,
                    Drift.Kind.MISSING_IN_PORTAL,
                    record.key,
                    record.reference or record.fields.get("name", "") or record.key,
                    None,
                    {"erp": dict(record.fields)},
                )
            continue
        erp_fields = spec.erp_fields(record) if spec.erp_fields is not None else dict(record.fields)
        if "active" in row.fields:
            erp_fields.setdefault("active", reconcile_text(record.active))
        differences = {
            name: [value, erp_fields.get(name, "")]
            for name, value in row.fields.items()
            if value != erp_fields.get(name, "")
        }
        if differences:
            _drift_seen(run, spec, Drift.Kind.FIELD_DIFFERS, record.key, row.label, row.pk, differences)
    ReconcileMark.objects.bulk_create(marks, ignore_conflicts=True)  # a resumed page may come again


def _finish(run: ReconcileRun, spec: ReconcileSpec) -> None:
    marks = ReconcileMark.objects.filter(run=run)
    # Two ERP records carrying one portal reference.
    for duplicate in (
        marks.exclude(reference="").values("reference").annotate(n=Count("id")).filter(n__gt=1).iterator()
    ):
        reference = duplicate["reference"]
        keys = list(marks.filter(reference=reference).order_by("key").values_list("key", flat=True))
        portal_pk = next(
            iter(marks.filter(reference=reference).exclude(portal_pk="").values_list("portal_pk", flat=True)),
            None,
        )
        _drift_seen(run, spec, Drift.Kind.DUPLICATED, reference, reference, portal_pk, {"erp_keys": keys})
    # Portal rows that link an ERP record the ERP no longer has (no page of this run matched them).
    linked = spec.linked()
    matched = marks.exclude(portal_pk="").annotate(matched_pk=Cast("portal_pk", BigIntegerField()))
    gone_pks: list[int] = []
    for row in (
        linked.exclude(pk__in=matched.values("matched_pk"))
        .values("pk", "key", "label")
        .iterator(chunk_size=2000)
    ):
        _drift_seen(run, spec, Drift.Kind.DELETED_IN_ERP, row["key"], row["label"], row["pk"], {})
        gone_pks.append(row["pk"])
        if spec.on_deleted is not None and len(gone_pks) >= 500:
            spec.on_deleted(gone_pks)
            gone_pks = []
    if spec.on_deleted is not None and gone_pks:
        spec.on_deleted(gone_pks)
    portal_rows = linked.count()
    # Portal rows the ERP should have and was never given.
    if spec.unlinked is not None:
        unlinked = spec.unlinked()
        portal_rows += unlinked.count()
        for row in unlinked.values("pk", "label").iterator(chunk_size=2000):
            _drift_seen(
                run, spec, Drift.Kind.MISSING_IN_ERP, f"portal:{row['pk']}", row["label"], row["pk"], {}
            )
    now = timezone.now()
    Drift.objects.filter(
        connection=run.connection, entity=run.entity, status__in=[*OPEN, Drift.Status.ACCEPTED]
    ).exclude(last_seen_run=run).update(status=Drift.Status.RESOLVED, resolved_at=now, updated_at=now)
    marks.delete()
    still_open = Drift.objects.filter(connection=run.connection, entity=run.entity, status__in=OPEN)
    run.differences = still_open.count()
    run.portal_rows = portal_rows
    run.status = ReconcileRun.Status.DONE
    run.finished_at = now
    run.lease_expires_at = None
    run.save(
        update_fields=[
            "differences",
            "portal_rows",
            "status",
            "finished_at",
            "lease_expires_at",
            "updated_at",
        ]
    )
    summary = [
        f"{row['kind']}: {row['n']}"
        for row in still_open.values("kind").annotate(n=Count("id")).order_by("kind")
    ]
    alerts.drift_alert(
        connection=run.connection, entity=run.entity, open_count=run.differences, summary_lines=summary
    )


def _drift_seen(
    run: ReconcileRun,
    spec: ReconcileSpec,
    kind: str,
    key: str,
    label: str,
    target_pk: object | None,
    details: dict[str, Any],
) -> Drift:
    """Record a difference this run found: new, still there, or back. An accepted one stays accepted
    while it is the same difference; a changed one is open again."""
    target_type = ContentType.objects.get_for_model(spec.model) if target_pk is not None else None
    drift = Drift.objects.filter(connection=run.connection, entity=run.entity, kind=kind, key=key).first()
    if drift is None:
        return Drift.objects.create(
            connection=run.connection,
            entity=run.entity,
            kind=kind,
            key=key[:200],
            label=label[:300],
            target_type=target_type,
            target_id=str(target_pk) if target_pk is not None else "",
            details=details,
            first_seen_run=run,
            last_seen_run=run,
        )
    status = drift.status
    if status == Drift.Status.RESOLVED or (status == Drift.Status.ACCEPTED and drift.details != details):
        status = Drift.Status.OPEN
        drift.first_seen_run = run if drift.status == Drift.Status.RESOLVED else drift.first_seen_run
    elif status == Drift.Status.FIXING and (drift.fix_job is None or drift.fix_job.is_final):
        status = Drift.Status.OPEN  # the fix ran and the difference is still there
    drift.status = status
    drift.details = details
    drift.label = label[:300]
    drift.last_seen_run = run
    drift.resolved_at = None
    drift.save(
        update_fields=[
            "status",
            "details",
            "label",
            "last_seen_run",
            "first_seen_run",
            "resolved_at",
            "updated_at",
        ]
    )
    return drift


# --- Fixes -------------------------------------------------------------------------------------------------


def fixes_for(drift: Drift) -> list[str]:
    """The fixes that fit a difference: re-pull what the ERP owns, re-push what the portal owns, or accept
    it as it is."""
    if drift.status not in OPEN:
        return []
    spec = registry.reconcile_get(drift.entity)
    fixes = []
    erp_has_it = drift.kind in (Drift.Kind.FIELD_DIFFERS, Drift.Kind.MISSING_IN_PORTAL)
    if spec.stream and erp_has_it:
        fixes.append("repull")
    portal_has_it = drift.kind in (
        Drift.Kind.FIELD_DIFFERS,
        Drift.Kind.MISSING_IN_ERP,
        Drift.Kind.DELETED_IN_ERP,
    )
    portal_owned = not spec.imported or drift.kind == Drift.Kind.MISSING_IN_ERP
    if spec.repush is not None and portal_has_it and portal_owned and drift.target_id:
        fixes.append("repush")
    fixes.append("accept")
    return fixes


def _audit(drift: Drift, message: str, job: SyncJob | None = None) -> None:
    if drift.target_type_id and drift.target_id:
        SyncEvent.objects.create(
            connection=drift.connection,
            target_type_id=drift.target_type_id,
            target_id=drift.target_id,
            direction=SyncEvent.Direction.INBOUND,
            outcome=SyncEvent.Outcome.UPDATED if job is None else SyncEvent.Outcome.QUEUED,
            message=message[:1000],
            job=job,
        )


def _locked_open(drift: Drift, fix: str) -> Drift:
    drift = Drift.objects.select_for_update().get(pk=drift.pk)
    if fix not in fixes_for(drift):
        raise InvalidDriftAction(
            f"This difference ({drift.get_kind_display().lower()}, {drift.get_status_display().lower()}) "
            f"cannot be fixed that way."
        )
    return drift


@transaction.atomic
def drift_accept(*, drift: Drift, actor: User, reason: str) -> Drift:
    """A person decides the difference is right as it is; it stays accepted while it stays the same."""
    if not reason.strip():
        raise InvalidDriftAction("Say why this difference is accepted; the reason is kept with it.")
    drift = _locked_open(drift, "accept")
    drift.status = Drift.Status.ACCEPTED
    drift.accepted_by, drift.accepted_at, drift.accepted_reason = actor, timezone.now(), reason.strip()[:2000]
    drift.save(update_fields=["status", "accepted_by", "accepted_at", "accepted_reason", "updated_at"])
    _audit(drift, f"{drift.get_kind_display()} accepted as is by {actor}: {drift.accepted_reason}")
    return drift


@transaction.atomic
def drift_repull(*, drift: Drift, actor: User) -> Drift:
    """Read the record from the ERP again and apply it through its stream, through the outbox."""
    drift = _locked_open(drift, "repull")
    generation = SyncJob.objects.filter(kind=REPULL, target_id=str(drift.pk)).count() + 1
    job = job_enqueue(kind=REPULL, target=drift, idempotency_key=f"{REPULL}:{drift.pk}:{generation}")
    return _fixing(drift, job, f"re-pull from the ERP queued by {actor}")


@transaction.atomic
def drift_repush(*, drift: Drift, actor: User) -> Drift:
    """Send the portal's record to the ERP again through its own outbox job."""
    drift = _locked_open(drift, "repush")
    spec = registry.reconcile_get(drift.entity)
    assert spec.repush is not None  # noqa: S101 - fixes_for offered it
    job = spec.repush(int(drift.target_id))
    return _fixing(drift, job, f"re-push to the ERP queued by {actor}")


def _fixing(drift: Drift, job: SyncJob | None, message: str) -> Drift:
    drift.status = Drift.Status.FIXING
    drift.fix_job = job
    drift.save(update_fields=["status", "fix_job", "updated_at"])
    _audit(drift, message, job)
    return drift


def drifts_repull(connector: Connector, jobs: list[SyncJob]) -> None:
    """The re-pull job kind: each drift's ERP record read again by its key and applied through the
    stream's appliers, as a pull would."""
    drifts = Drift.objects.in_bulk([int(job.target_id) for job in jobs])
    for job in jobs:
        drift = drifts.get(int(job.target_id))
        if drift is None:
            job_succeed(job=job, erp_reference="", message="the difference no longer exists")
            continue
        spec = registry.reconcile_get(drift.entity)
        if not spec.stream:
            job_fail(job=job, error=ErpBusinessError("This difference cannot be re-pulled."))
            continue
        try:
            one = connector.reconcile_one(drift.entity, drift.key)
        except ErpError as exc:
            job_fail(job=job, error=exc)
            continue
        found = [one] if one is not None and one.record is not None else []
        if not found:
            job_succeed(
                job=job,
                erp_reference="",
                message=f"the ERP has no {drift.entity} {drift.key}: nothing to pull",
            )
            continue

        def apply(
            records: Iterable[ReconcileRecord] = found,
            stream: str = spec.stream,
            connection: ErpConnection = drift.connection,
        ) -> None:
            inbound.apply_page(connection=connection, stream=stream, records=[r.record for r in records])

        job_succeed(
            job=job, erp_reference=drift.key, message=f"{drift.entity} {drift.key} pulled again", apply=apply
        )


def register() -> None:
    registry.job_kind_register(
        registry.JobKind(REPULL, drifts_repull, "Re-pull a record a reconciliation found")
    )
