"""Alerts to staff: one email when an incident opens (a stream stalls, a job dies), none per retry."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.staff import StaffRole, staff_emails
from apps.erp import registry
from apps.erp.models import ErpConnection, Incident, SyncCursor, SyncJob
from apps.erp.selectors import queue_view


def alert_recipients() -> list[str]:
    return sorted({*staff_emails(role=StaffRole.ADMIN), *settings.ERP_ALERT_EMAILS})


def _open(key: str, summary: str, body: str) -> bool:
    """Open an incident and email it; False (no email) when it is already open."""
    try:
        with transaction.atomic():
            incident = Incident.objects.create(key=key, summary=summary[:500])
    except IntegrityError:
        return False
    recipients = alert_recipients()
    if recipients:
        send_mail(
            subject=f"[B2B Portal] {summary}"[:200], message=body, from_email=None, recipient_list=recipients
        )
    incident.notified_at = timezone.now()
    incident.save(update_fields=["notified_at"])
    return True


def _close(key: str) -> None:
    Incident.objects.filter(key=key, closed_at__isnull=True).update(closed_at=timezone.now())


def _monitor_url() -> str:
    return settings.SITE_URL.rstrip("/") + "/staff/sync/"


DRIFT_ALERT_LINES = 20  # an email lists at most this many differences; the page lists them all


def _drift_url() -> str:
    return settings.SITE_URL.rstrip("/") + "/staff/sync/drift/"


def drift_alert(*, connection: ErpConnection, entity: str, open_count: int, summary_lines: list[str]) -> bool:
    """One incident per entity while it has open drift: an email when the first run finds some, none on
    later runs that still do, closed by a run that finds none. The engine calls it at the end of each run.
    Returns True when this call opened the incident (and sent its email)."""
    key = f"drift:{connection.pk}:{entity}"
    if open_count <= 0:
        _close(key)
        return False
    label = next((spec.label for spec in registry.reconciliations() if spec.entity == entity), entity)
    shown = summary_lines[:DRIFT_ALERT_LINES]
    lines = "\n".join(f"- {line}" for line in shown)
    if len(summary_lines) > len(shown):
        lines += f"\n- and {len(summary_lines) - len(shown)} more"
    return _open(
        key,
        f"ERP reconciliation found {open_count} difference{'s' if open_count != 1 else ''} in {label}",
        f"The reconciliation of {label} between the portal and {connection} found {open_count} open "
        f"difference{'s' if open_count != 1 else ''}.\n{lines}\n\n"
        f"Review and fix them on the drift page: {_drift_url()}\n",
    )


def alerts_check() -> int:
    """Open incidents for stalled streams and dead jobs, close the ones that cleared. Returns new ones."""
    opened = 0
    now = timezone.now()
    stall_after = timedelta(seconds=settings.ERP_STREAM_STALL_ALERT_SECONDS)
    for connection in ErpConnection.objects.filter(is_active=True):
        for cursor in SyncCursor.objects.filter(connection=connection):
            key = f"stream:{connection.pk}:{cursor.stream}"
            reference = cursor.last_success_at or cursor.created_at
            if now - reference > stall_after:
                last = cursor.last_success_at.isoformat() if cursor.last_success_at else "never"
                opened += _open(
                    key,
                    f"ERP stream {registry.stream_label(cursor.stream)} has not synced since {last}",
                    f"The {registry.stream_label(cursor.stream)} stream of {connection} "
                    f"has not succeeded since {last}.\n"
                    f"Last error: {cursor.last_error or 'none recorded'}\n\nSync monitor: {_monitor_url()}\n",
                )
            else:
                _close(key)
    opened += _queue_alerts(now)
    dead_ids = set()
    for job in SyncJob.objects.filter(status=SyncJob.Status.DEAD).select_related("connection"):
        dead_ids.add(job.pk)
        opened += _open(
            f"job:{job.pk}",
            f"ERP job {job.kind} for {job.target_id} is dead after {job.attempts} attempts",
            f"The {job.kind} job for record {job.target_id} gave up after {job.attempts} attempts.\n"
            f"Last error: {job.last_error}\n\nReplay it from the sync monitor: {_monitor_url()}\n",
        )
    for incident in Incident.objects.filter(key__startswith="job:", closed_at__isnull=True):
        if int(incident.key.split(":", 1)[1]) not in dead_ids:
            _close(incident.key)
    return opened


def _queue_alerts(now: datetime) -> int:
    """Stuck work: jobs in flight far longer than a push takes, and due work no worker takes."""
    queue = queue_view(now)
    opened = 0
    stuck_after = settings.ERP_JOB_STUCK_SECONDS
    if queue.stuck:
        oldest = (
            SyncJob.objects.filter(
                status=SyncJob.Status.IN_FLIGHT, claimed_at__lt=now - timedelta(seconds=stuck_after)
            )
            .order_by("claimed_at")
            .first()
        )
        detail = (
            f"The oldest, job #{oldest.pk} ({oldest.kind} for {oldest.target_id}), was claimed by "
            f"{oldest.claimed_by} {int((now - oldest.claimed_at).total_seconds())} s ago, attempt "
            f"{oldest.attempts} of {oldest.max_attempts}; last error: {oldest.last_error or 'none'}.\n"
            if oldest is not None and oldest.claimed_at is not None
            else ""
        )
        opened += _open(
            "queue:stuck",
            f"{queue.stuck} ERP job(s) in flight for over {stuck_after} s",
            f"{queue.stuck} outbound job(s) have been in flight for more than {stuck_after} s: a worker "
            f"is stuck or the ERP does not answer.\n{detail}\nSync monitor: {_monitor_url()}\n",
        )
    else:
        _close("queue:stuck")
    waited = queue.oldest_due_age_seconds or 0
    orphaned_for = queue.oldest_orphan_age_seconds or 0
    limit = settings.ERP_QUEUE_STALL_ALERT_SECONDS
    if waited > limit or orphaned_for > limit:
        opened += _open(
            "queue:waiting",
            f"ERP jobs have waited {max(waited, orphaned_for)} s for a worker",
            f"Due outbound jobs ({queue.due_now} due, {queue.orphaned} left by lost workers) have waited "
            f"{max(waited, orphaned_for)} s without a worker taking them. Is a qcluster running?\n\n"
            f"Sync monitor: {_monitor_url()}\n",
        )
    else:
        _close("queue:waiting")
    return opened
