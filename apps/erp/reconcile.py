"""STUB so the drift page imports on its branch; the lead's reconciliation engine replaces this file.

Only the signatures the drift page, the alerts and the nightly task call are declared here."""

from __future__ import annotations

from django.contrib.auth.models import User

from apps.erp.exceptions import InvalidDriftAction
from apps.erp.models import Drift, ReconcileRun

_NOT_MERGED = "The reconciliation engine is not installed yet."


def reconcile_request(*, entity: str, requested_by: User | None) -> None:
    raise NotImplementedError(_NOT_MERGED)


def reconcile_all() -> list[ReconcileRun]:
    raise NotImplementedError(_NOT_MERGED)


def fixes_for(drift: Drift) -> list[str]:
    return []


def drift_accept(*, drift: Drift, actor: User, reason: str) -> Drift:
    raise InvalidDriftAction(_NOT_MERGED)


def drift_repull(*, drift: Drift, actor: User) -> Drift:
    raise InvalidDriftAction(_NOT_MERGED)


def drift_repush(*, drift: Drift, actor: User) -> Drift:
    raise InvalidDriftAction(_NOT_MERGED)
