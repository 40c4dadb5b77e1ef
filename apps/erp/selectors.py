from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import models
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from apps.erp import registry, services
from apps.erp.models import Drift, ErpConnection, ReconcileRun, SyncCursor, SyncEvent, SyncJob
from apps.erp.services import STREAM_VERSION_KEY, WATCH_CALLS_KEY


@dataclass(frozen=True)
class SyncState:
    """What a record's sync badge shows."""

    state: str  # "pending" | "synced" | "failed" | "never"
    at: datetime | None = None
    reason: str = ""

    @property
    def label(self) -> str:
        return {
            "pending": "Sync pending",
            "synced": "Synced",
            "failed": "Sync failed",
            "never": "Not synced",
        }[self.state]


def sync_states_for(model: type[models.Model], ids: Iterable[object]) -> dict[str, SyncState]:
    """Badge state of many records of one model in two queries (for list pages)."""
    keys = [str(pk) for pk in ids]
    content_type = ContentType.objects.get_for_model(model)
    open_jobs: dict[str, SyncJob] = {}
    for open_job in (
        SyncJob.objects.filter(target_type=content_type, target_id__in=keys)
        .exclude(status=SyncJob.Status.SUCCEEDED)
        .order_by("created_at")
    ):
        open_jobs[open_job.target_id] = open_job
    last_success = dict(
        SyncEvent.objects.filter(
            target_type=content_type,
            target_id__in=keys,
            outcome__in=[SyncEvent.Outcome.SUCCEEDED, SyncEvent.Outcome.UPDATED, SyncEvent.Outcome.CREATED],
        )
        .values("target_id")
        .annotate(at=models.Max("created_at"))
        .values_list("target_id", "at")
    )
    states = {}
    for key in keys:
        job = open_jobs.get(key)
        if job is not None and job.status in (SyncJob.Status.FAILED, SyncJob.Status.DEAD):
            states[key] = SyncState("failed", job.updated_at, job.last_error)
        elif job is not None:
            reason = f"retrying: {job.last_error}" if job.last_error else ""
            states[key] = SyncState("pending", job.created_at, reason)
        elif key in last_success:
            states[key] = SyncState("synced", last_success[key])
        else:
            states[key] = SyncState("never")
    return states


def sync_state_for(record: models.Model) -> SyncState:
    return sync_states_for(type(record), [record.pk])[str(record.pk)]


def timeline_for(record: models.Model, limit: int = 50) -> QuerySet[SyncEvent]:
    content_type = ContentType.objects.get_for_model(record)
    return SyncEvent.objects.filter(target_type=content_type, target_id=str(record.pk)).select_related("job")[
        :limit
    ]


@dataclass(frozen=True)
class StreamView:
    cursor: SyncCursor
    label: str
    lag_seconds: int | None
    running: bool


@dataclass(frozen=True)
class QueueView:
    pending: int
    due_now: int
    in_flight: int
    failed: int
    dead: int
    oldest_pending_age_seconds: int | None
    # In flight longer than ERP_JOB_STUCK_SECONDS: a worker alive but stuck (or a hung ERP call).
    stuck: int = 0
    # In flight with an expired lease: the worker died and no one has taken the job back yet.
    orphaned: int = 0
    oldest_in_flight_age_seconds: int | None = None
    # Due and waiting for a worker: how long the oldest has waited.
    oldest_due_age_seconds: int | None = None
    # Left by a lost worker: how long ago the oldest such claim expired.
    oldest_orphan_age_seconds: int | None = None
    retrying: int = 0  # pending after at least one failed attempt

    @property
    def healthy(self) -> bool:
        return not (self.failed or self.dead or self.stuck or self.orphaned or self.retrying)


@dataclass(frozen=True)
class MonitorView:
    connection: ErpConnection | None
    streams: list[StreamView]
    queue: QueueView
    problem_jobs: list[SyncJob]
    checked_at: datetime


def _age(now: datetime, then: datetime | None) -> int | None:
    return int((now - then).total_seconds()) if then else None


def queue_view(now: datetime | None = None) -> QueueView:
    """The outbound queue in one query: counts, stuck and orphaned work, the oldest waiting ages."""
    now = now or timezone.now()
    stuck_since = now - timedelta(seconds=settings.ERP_JOB_STUCK_SECONDS)
    in_flight = Q(status=SyncJob.Status.IN_FLIGHT)
    due = Q(status=SyncJob.Status.PENDING, next_attempt_at__lte=now)
    expired = in_flight & (Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True))
    counts = SyncJob.objects.aggregate(
        pending=Count("id", filter=Q(status=SyncJob.Status.PENDING)),
        due_now=Count("id", filter=due),
        in_flight=Count("id", filter=in_flight),
        failed=Count("id", filter=Q(status=SyncJob.Status.FAILED)),
        dead=Count("id", filter=Q(status=SyncJob.Status.DEAD)),
        retrying=Count("id", filter=Q(status=SyncJob.Status.PENDING, attempts__gt=0)),
        stuck=Count("id", filter=in_flight & Q(claimed_at__lt=stuck_since)),
        orphaned=Count("id", filter=expired),
        oldest_orphan=Min("lease_expires_at", filter=expired),
        oldest=Min("created_at", filter=Q(status__in=[SyncJob.Status.PENDING, SyncJob.Status.IN_FLIGHT])),
        oldest_claim=Min("claimed_at", filter=in_flight),
        oldest_due=Min("next_attempt_at", filter=due),
    )
    return QueueView(
        pending=counts["pending"],
        due_now=counts["due_now"],
        in_flight=counts["in_flight"],
        failed=counts["failed"],
        dead=counts["dead"],
        retrying=counts["retrying"],
        stuck=counts["stuck"],
        orphaned=counts["orphaned"],
        oldest_pending_age_seconds=_age(now, counts["oldest"]),
        oldest_in_flight_age_seconds=_age(now, counts["oldest_claim"]),
        oldest_due_age_seconds=_age(now, counts["oldest_due"]),
        oldest_orphan_age_seconds=_age(now, counts["oldest_orphan"]),
    )


def monitor_view() -> MonitorView:
    now = timezone.now()
    connection = ErpConnection.objects.filter(is_active=True).first()
    streams = [
        StreamView(
            cursor=cursor,
            label=registry.stream_label(cursor.stream),
            lag_seconds=int((now - cursor.last_success_at).total_seconds())
            if cursor.last_success_at
            else None,
            running=bool(cursor.run_locked_until and cursor.run_locked_until > now),
        )
        for cursor in SyncCursor.objects.select_related("connection").order_by("connection__name", "stream")
    ]
    stuck_since = now - timedelta(seconds=settings.ERP_JOB_STUCK_SECONDS)
    problem_jobs = list(
        SyncJob.objects.filter(
            Q(status__in=[SyncJob.Status.FAILED, SyncJob.Status.DEAD])
            | Q(status=SyncJob.Status.PENDING, attempts__gt=0)
            | Q(status=SyncJob.Status.IN_FLIGHT, claimed_at__lt=stuck_since)
            | Q(status=SyncJob.Status.IN_FLIGHT, lease_expires_at__lt=now)
        )
        .select_related("target_type", "connection")
        .order_by("-updated_at")[:100]
    )
    for job in problem_jobs:
        job.in_flight_seconds = _age(now, job.claimed_at) if job.status == SyncJob.Status.IN_FLIGHT else None  # type: ignore[attr-defined]
        job.orphaned = bool(  # type: ignore[attr-defined]
            job.status == SyncJob.Status.IN_FLIGHT
            and (job.lease_expires_at is None or job.lease_expires_at < now)
        )
    return MonitorView(
        connection=connection,
        streams=streams,
        queue=queue_view(now),
        problem_jobs=problem_jobs,
        checked_at=now,
    )


def stale_after() -> timedelta:
    return timedelta(seconds=settings.ERP_STREAM_STALL_ALERT_SECONDS)


# --- Reconciliation: the drift page ----------------------------------------------------------------------

DRIFT_ACTIVE = (Drift.Status.OPEN, Drift.Status.FIXING)  # what the page lists unless told otherwise
RUN_START_WAIT = timedelta(seconds=30)  # after "Run now", poll this long for the worker to start the run


@dataclass(frozen=True)
class EntityDrift:
    """One registered reconciliation: its last run and its open drifts per kind."""

    entity: str
    label: str
    last_run: ReconcileRun | None
    open_by_kind: dict[str, int]

    @property
    def open_total(self) -> int:
        return sum(self.open_by_kind.values())

    @property
    def running(self) -> bool:
        return self.last_run is not None and self.last_run.status == ReconcileRun.Status.RUNNING

    @property
    def kind_counts(self) -> list[tuple[str, str, int]]:
        """(kind, label, open count) for every kind, in the order of Drift.Kind."""
        return [(kind.value, kind.label, self.open_by_kind.get(kind.value, 0)) for kind in Drift.Kind]


@dataclass(frozen=True)
class DriftOverview:
    entities: list[EntityDrift]
    checked_at: datetime
    poll: bool  # a run is running, or one was just asked for: the panel refreshes itself
    not_kept: list[str]  # labels of the entities this ERP does not keep (e.g. price lists), never compared


def drift_overview(*, requested_since: datetime | None = None) -> DriftOverview:
    """Every registered reconciliation with its last run and open drift counts: two queries in all."""
    capabilities = services.capabilities_get()
    specs = [spec for spec in registry.reconciliations() if spec.applies_to(capabilities)]
    not_kept = [spec.label for spec in registry.reconciliations() if not spec.applies_to(capabilities)]
    entities = [spec.entity for spec in specs]
    last_runs = {
        run.entity: run
        for run in ReconcileRun.objects.filter(entity__in=entities)
        .order_by("entity", "-started_at", "-id")
        .distinct("entity")
    }
    counts: dict[str, dict[str, int]] = {}
    for row in (
        Drift.objects.filter(entity__in=entities, status__in=DRIFT_ACTIVE)
        .values("entity", "kind")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts.setdefault(row["entity"], {})[row["kind"]] = row["n"]
    rows = [
        EntityDrift(spec.entity, spec.label, last_runs.get(spec.entity), counts.get(spec.entity, {}))
        for spec in specs
    ]
    now = timezone.now()
    waiting = (
        requested_since is not None
        and now - requested_since < RUN_START_WAIT
        and not any(row.last_run and row.last_run.started_at >= requested_since for row in rows)
    )
    return DriftOverview(
        entities=rows, checked_at=now, poll=waiting or any(row.running for row in rows), not_kept=not_kept
    )


def drift_list(*, entity: str = "", kind: str = "", status: str = "", search: str = "") -> QuerySet[Drift]:
    """The differences, filtered. ``status`` "" lists the open ones and those being fixed, "all" every one."""
    drifts = Drift.objects.select_related("accepted_by", "first_seen_run", "last_seen_run", "fix_job")
    if entity:
        drifts = drifts.filter(entity=entity)
    if kind:
        drifts = drifts.filter(kind=kind)
    if status == "all":
        pass
    elif status:
        drifts = drifts.filter(status=status)
    else:
        drifts = drifts.filter(status__in=DRIFT_ACTIVE)
    if search:
        drifts = drifts.filter(Q(label__icontains=search) | Q(key__icontains=search))
    return drifts.order_by("entity", "kind", "label", "key", "pk")


@dataclass(frozen=True)
class DriftRow:
    """A difference as the page and the CSV show it."""

    drift: Drift
    entity_label: str
    fields: list[tuple[str, object, object]]  # field_differs: (field, portal value, ERP value)
    erp_keys: list[str]  # duplicated: the ERP records carrying one portal reference
    fixes: list[str]  # the fixes that fit: "repull", "repush", "accept"

    @property
    def first_seen(self) -> datetime | None:
        run = self.drift.first_seen_run
        return run.started_at if run is not None else self.drift.created_at

    @property
    def last_seen(self) -> datetime | None:
        run = self.drift.last_seen_run
        return run.started_at if run is not None else self.drift.updated_at


def _field_pairs(details: object) -> list[tuple[str, object, object]]:
    if not isinstance(details, dict):
        return []
    pairs = []
    for field, values in details.items():
        if isinstance(values, list | tuple) and len(values) == 2:
            pairs.append((str(field), values[0], values[1]))
    return pairs


def drift_rows(drifts: Iterable[Drift], *, fixes_for: Callable[[Drift], list[str]]) -> list[DriftRow]:
    """Rows for drifts already loaded (no query of their own). ``fixes_for`` is the engine's
    (``reconcile.fixes_for``, passed in: the engine imports the alerts, which import these selectors). An
    entity no app registers any more gets no fix: the engine would not know how to make it."""
    specs = {spec.entity: spec for spec in registry.reconciliations()}
    rows = []
    for drift in drifts:
        spec = specs.get(drift.entity)
        details = drift.details if isinstance(drift.details, dict) else {}
        rows.append(
            DriftRow(
                drift=drift,
                entity_label=spec.label if spec is not None else drift.entity,
                fields=_field_pairs(details) if drift.kind == Drift.Kind.FIELD_DIFFERS else [],
                erp_keys=[str(key) for key in details.get("erp_keys", [])]
                if drift.kind == Drift.Kind.DUPLICATED
                else [],
                fixes=list(fixes_for(drift)) if spec is not None else [],
            )
        )
    return rows


def drift_get(drift_id: int) -> Drift | None:
    return drift_list(status="all").filter(pk=drift_id).first()


def stream_versions(streams: Iterable[str]) -> dict[str, int]:
    """The page version of each stream (bumped by every pull that changed something), 0 when never."""
    names = list(streams)
    found = cache.get_many([STREAM_VERSION_KEY.format(name) for name in names])
    return {name: int(found.get(STREAM_VERSION_KEY.format(name), 0)) for name in names}


def watch_calls() -> int:
    """How many questions the ERP watcher has asked the ERP (all watchers, since the cache began)."""
    return int(cache.get(WATCH_CALLS_KEY, 0))


def live_token(streams: Iterable[str]) -> str:
    """The page versions of ``streams`` as one token ("3.0.12"), in the order given."""
    return ".".join(str(version) for version in stream_versions(streams).values())


def live_poller(streams: str) -> dict[str, Any]:
    """What ``erp/_live.html`` shows for a comma-separated list of stream names (unknown names dropped)."""
    known = set(registry.stream_names())
    names = [name for name in (part.strip() for part in streams.split(",")) if name in known]
    return {
        "streams": ",".join(names),
        "token": live_token(names),
        "interval": settings.ERP_PAGE_POLL_SECONDS,
    }
