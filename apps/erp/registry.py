"""What the domain apps teach the engine: their job kinds (outbound) and streams (inbound).

The engine knows no domain. Each app that syncs a record owns its side in its own ``erp.py`` (payload
builders, job handlers, appliers) and registers it here from its ``AppConfig.ready()``, the way apps
register with Django's admin. The engine then claims jobs by kind and pulls streams by name, never
importing a domain app (import-linter holds it to that: see docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models

if TYPE_CHECKING:
    from apps.erp.connectors.base import Connector, Cursor, Page
    from apps.erp.models import SyncJob

JobHandler = Callable[["Connector", list["SyncJob"]], None]


@dataclass(frozen=True)
class JobKind:
    """An outbound job kind: ``handler`` pushes a batch of claimed jobs and ends each one with
    ``job_succeed`` or ``job_fail`` (a job it leaves open is failed by the engine)."""

    name: str  # e.g. "order.push": written on every SyncJob of the kind
    handler: JobHandler
    label: str = ""


@dataclass(frozen=True)
class Change:
    """A record a pull created or changed: one timeline event on it (the engine writes the events)."""

    model: type[models.Model]
    pk: int
    message: str
    created: bool = False


@dataclass
class Applied:
    """What one applier did with a page: how many records it wrote, and the events to show for them."""

    changed: int = 0
    changes: list[Change] = field(default_factory=list)


Applier = Callable[[list[Any]], Applied]
Fetch = Callable[["Connector", "Cursor", int], "Page[Any]"]


@dataclass
class StreamSpec:
    """An inbound stream. ``fetch`` reads a page from the connector; each applier, in registration order,
    writes the page to the rows its app owns, in the page's transaction. ``after``: streams that must be
    pulled before this one in a round (stock refers to products). ``snapshot_first``: a first run reads
    the ERP's state as of now (stock), so the cursor starts at the run's start, not at the records' stamps.
    """

    name: str
    label: str
    fetch: Fetch
    after: tuple[str, ...] = ()
    snapshot_first: bool = False
    appliers: list[Applier] = field(default_factory=list)


_job_kinds: dict[str, JobKind] = {}
_streams: dict[str, StreamSpec] = {}
_late_appliers: dict[str, list[Applier]] = {}


def job_kind_register(kind: JobKind) -> None:
    """Called from an app's ``ready()``; registering the same name again replaces it (autoreload)."""
    _job_kinds[kind.name] = kind


def stream_register(stream: StreamSpec, *, apply: Applier) -> None:
    """The app that owns a stream's main records declares it, with its own applier first."""
    existing = _streams.get(stream.name)
    stream.appliers = [apply, *(existing.appliers[1:] if existing else _late_appliers.pop(stream.name, []))]
    _streams[stream.name] = stream


def stream_applier_register(stream: str, apply: Applier) -> None:
    """Another app writes its own rows from the same records (credit terms and limits from customers).
    Appliers run in app order; one registered before the stream itself waits for it."""
    target = _streams[stream].appliers if stream in _streams else _late_appliers.setdefault(stream, [])
    if apply not in target:
        target.append(apply)


def job_kinds() -> dict[str, JobKind]:
    return dict(_job_kinds)


def handler_for(kind: str) -> JobHandler | None:
    registered = _job_kinds.get(kind)
    return registered.handler if registered else None


def stream_get(name: str) -> StreamSpec:
    try:
        return _streams[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"No app registered the ERP stream {name!r} (known: {', '.join(sorted(_streams)) or 'none'})."
        ) from None


def stream_label(name: str) -> str:
    stream = _streams.get(name)
    return stream.label if stream else name.replace("_", " ").capitalize()


def streams() -> list[StreamSpec]:
    """Every registered stream in pull order: each after the streams it names in ``after``, otherwise in
    registration order."""
    ordered: list[StreamSpec] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(stream: StreamSpec) -> None:
        if stream.name in placed:
            return
        if stream.name in visiting:
            raise ImproperlyConfigured(f"ERP streams depend on each other in a circle at {stream.name!r}.")
        visiting.add(stream.name)
        for before in stream.after:
            if before in _streams:
                place(_streams[before])
        visiting.discard(stream.name)
        placed.add(stream.name)
        ordered.append(stream)

    for stream in list(_streams.values()):
        place(stream)
    return ordered


def stream_names() -> list[str]:
    return [stream.name for stream in streams()]


# --- Reconciliations ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortalRow:
    """A portal record as a reconciliation compares it: ``fields`` with the same names and the same text
    normalisation (``reconcile_text``) as the ERP side's."""

    pk: int
    key: str  # the ERP key it links (empty: not linked yet)
    label: str
    fields: dict[str, str]


@dataclass(frozen=True)
class ReconcileSpec:
    """An entity a domain app lets the engine compare with the ERP.

    ``read`` pages every ERP record (``Connector.reconcile_*``); ``lookup`` finds the portal rows of a page
    of ERP records in one query, by ERP key or by the reference they carry, keyed by the ERP key;
    ``linked`` is a QuerySet of every portal row that names an ERP key, annotated ``key`` and ``label``;
    ``unlinked`` likewise for rows that should be in the ERP and have no key yet. ``imported``: the ERP
    owns the records, so one the portal lacks is "missing in the portal" (customers, products); else the
    portal owns them and an ERP record it does not know is not drift (a sale entered in the ERP).
    ``on_deleted`` acts at once on portal rows whose ERP record is gone (products stop being orderable);
    ``stream``: the pull stream whose appliers a re-pull fix runs; ``repush``: the outbox job that sends a
    portal row again."""

    entity: str
    label: str
    model: type[models.Model]
    read: Callable[[Connector, str, int], Page[Any]]
    lookup: Callable[[list[Any]], dict[str, PortalRow]]
    linked: Callable[[], Any]
    unlinked: Callable[[], Any] | None = None
    imported: bool = True
    on_deleted: Callable[[list[int]], object] | None = None
    stream: str | None = None
    repush: Callable[[int], SyncJob | None] | None = None
    # The ERP record's fields in the portal's terms, when they differ from the connector's (order states).
    erp_fields: Callable[[Any], dict[str, str]] | None = None
    # Of the ERP records the portal lacks, those it should have (customers: the ones a pull imports).
    expected: Callable[[Any], bool] | None = None


_reconciliations: dict[str, ReconcileSpec] = {}


def reconcile_register(spec: ReconcileSpec) -> None:
    _reconciliations[spec.entity] = spec


def reconciliations() -> list[ReconcileSpec]:
    return list(_reconciliations.values())


def reconcile_get(entity: str) -> ReconcileSpec:
    try:
        return _reconciliations[entity]
    except KeyError:
        raise ImproperlyConfigured(
            f"No app registered the reconciliation {entity!r} "
            f"(known: {', '.join(sorted(_reconciliations)) or 'none'})."
        ) from None
