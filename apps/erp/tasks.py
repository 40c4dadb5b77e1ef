from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from apps.erp import alerts, inbound, services, webhooks
from apps.erp import reconcile as reconciliation


def dispatch() -> str:
    if not settings.ERP_SYNC_ENABLED:
        return "sync disabled"
    services.dispatch_request_taken()
    slot = services.dispatcher_slot_take()
    if slot is None:
        return f"all {settings.ERP_DISPATCHERS} dispatchers at work: they take this work too"
    try:
        services.connection_get_default()
        report = services.dispatch()
    finally:
        services.dispatcher_slot_release(slot)
    if report.more_due:
        services.dispatch_request()  # this run reached its time limit: the next one goes on
    return (
        f"claimed {report.claimed}, succeeded {report.succeeded}, failed {report.failed}, "
        f"retrying {report.retrying}, dead {report.dead}" + (", more due" if report.more_due else "")
    )


def pull() -> str:
    """Pull every stream whose interval has passed (the schedule fires every 30 s)."""
    if not settings.ERP_SYNC_ENABLED:
        return "sync disabled"
    services.connection_get_default()
    # Fire a little early: a 30 s tick must not skip a run that is due in a second.
    not_before = timezone.now() - timedelta(seconds=max(0, settings.ERP_SYNC_INTERVAL_SECONDS - 5))
    reports = inbound.pull_round(not_before=not_before)
    alerts.alerts_check()
    done = [
        f"{report.stream}: {report.changed} changed" + (f" ({report.error})" if report.error else "")
        for report in reports
        if not report.skipped
    ]
    return "; ".join(done) or "nothing due"


def reconcile(entity: str, requested_by_id: int | None = None) -> str:
    """One entity's reconciliation, queued from the drift page."""
    if not settings.ERP_SYNC_ENABLED:
        return "sync disabled"
    user = User.objects.filter(pk=requested_by_id).first() if requested_by_id else None
    run = reconciliation.reconcile_run(entity=entity, requested_by=user)
    return f"{entity}: {run.status}, {run.erp_rows} ERP rows, {run.differences} open differences"


def check_alerts() -> None:
    alerts.alerts_check()


def reconcile_nightly() -> str:
    """Compare every registered entity with the ERP (the nightly schedule, ERP_RECONCILE_AT)."""
    if not settings.ERP_SYNC_ENABLED:
        return "sync disabled"
    runs = reconciliation.reconcile_all()
    return (
        "; ".join(f"{run.entity}: {run.status}, {run.differences} differences" for run in runs) or "nothing"
    )


__all__ = ["check_alerts", "dispatch", "pull", "reconcile", "reconcile_nightly"]


def webhooks_renew() -> str:
    """Subscribe to the ERP's change notifications and renew them a day before they expire (hourly; only
    with ERP_WEBHOOK_BASE_URL set: without it the portal polls)."""
    if not settings.ERP_SYNC_ENABLED or not webhooks.webhooks_enabled():
        return "webhooks off: polling only"
    report = webhooks.subscriptions_renew()
    return (
        f"subscribed {', '.join(report.subscribed) or 'none'}; renewed {', '.join(report.renewed) or 'none'}"
        + (f"; failed {', '.join(report.failed)}" if report.failed else "")
    )
