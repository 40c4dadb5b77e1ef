"""Change notifications from ERPs that call back (webhooks; Business Central's subscriptions).

When ``ERP_WEBHOOK_BASE_URL`` is set (the portal's public address, as the ERP reaches it), a scheduled task
(``tasks.webhooks_renew``) subscribes each active connection whose connector declares
``change_notifications`` to the collections its pulls read, and renews each subscription a day before it
expires (Business Central's last three days). The ERP POSTs to ``/erp/webhooks/<connection id>/``: the
view answers the validation handshake, checks each notification's ``clientState`` against the secret kept
on its ``ErpSubscription`` (constant-time), and asks the watcher to pull the streams named (``watcher.
streams_request``), so a change reaches the portal within seconds. Without the setting, or when a
notification is lost, the watcher's polling and the 30 s schedule stay the fallback.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apps.erp import watcher
from apps.erp.connectors import connector_for
from apps.erp.connectors.base import ErpError
from apps.erp.models import ErpConnection, ErpSubscription

logger = logging.getLogger(__name__)

RENEW_BEFORE = timedelta(days=1)  # renew a subscription this long before it expires
MAX_VALIDATION_TOKEN = 1024


class SubscriptionState(Protocol):
    subscription_id: str
    resource: str
    client_state: str
    expires_at: Any
    etag: str


class Subscribing(Protocol):
    """What a connector with change notifications offers (Business Central's)."""

    def webhook_resources(self) -> list[str]: ...

    def webhook_streams(self, payload: dict[str, Any]) -> set[str]: ...

    def subscribe(self, resource: str, notification_url: str, client_state: str) -> SubscriptionState: ...

    def renew(
        self, subscription_id: str, etag: str, notification_url: str, client_state: str
    ) -> SubscriptionState: ...


class WebhookRefused(Exception):
    """A notification the portal does not act on (unknown subscription, wrong clientState)."""


@dataclass
class RenewReport:
    subscribed: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def notification_url(connection: ErpConnection) -> str:
    path = reverse("erp-webhook", args=[connection.pk])
    return f"{settings.ERP_WEBHOOK_BASE_URL.rstrip('/')}{path}"


def webhooks_enabled() -> bool:
    return bool(settings.ERP_WEBHOOK_BASE_URL)


def subscriptions_renew(*, connection: ErpConnection | None = None) -> RenewReport:
    """Subscribe what is not subscribed yet, renew what expires within a day; an ERP error is kept on the
    subscription row (``last_error``) and the next run tries again."""
    report = RenewReport()
    if not webhooks_enabled():
        return report
    connections = [connection] if connection else list(ErpConnection.objects.filter(is_active=True))
    for conn in connections:
        connector = connector_for(conn)
        try:
            if not connector.capabilities.change_notifications:
                continue
            _renew_connection(conn, connector, report)  # type: ignore[arg-type]
        finally:
            connector.close()
    return report


def _renew_connection(connection: ErpConnection, connector: Subscribing, report: RenewReport) -> None:
    url = notification_url(connection)
    now = timezone.now()
    for resource in connector.webhook_resources():
        row, _ = ErpSubscription.objects.get_or_create(
            connection=connection, resource=resource, defaults={"client_state": secrets.token_urlsafe(32)}
        )
        due = not row.subscription_id or row.expires_at is None or row.expires_at - now <= RENEW_BEFORE
        if not due:
            continue
        try:
            if row.subscription_id and row.expires_at is not None and row.expires_at > now:
                state = connector.renew(row.subscription_id, row.etag, url, row.client_state)
                report.renewed.append(resource)
            else:
                # Never made, or expired (BC forgets an expired subscription): a new one, with a new secret.
                row.client_state = secrets.token_urlsafe(32)
                row.save(update_fields=["client_state", "updated_at"])
                state = connector.subscribe(resource, url, row.client_state)
                report.subscribed.append(resource)
        except ErpError as exc:
            logger.warning("ERP webhooks: %s %s: %s", connection, resource, exc.message)
            row.last_error = exc.message
            row.save(update_fields=["last_error", "updated_at"])
            report.failed.append(resource)
            continue
        row.subscription_id = state.subscription_id
        row.expires_at = state.expires_at
        row.etag = state.etag
        row.last_error = ""
        row.save(update_fields=["subscription_id", "expires_at", "etag", "last_error", "updated_at"])


def validation_answer(token: str) -> str:
    """The handshake: the ERP's validation token, echoed (bounded, so the endpoint echoes nothing big)."""
    return token[:MAX_VALIDATION_TOKEN]


def notification_receive(*, connection: ErpConnection, payload: dict[str, Any]) -> set[str]:
    """Check every notification of one POST against its subscription's secret, then ask the watcher to
    pull the streams they name. Raises ``WebhookRefused`` (nothing is pulled) if any is not ours."""
    items = payload.get("value")
    if not isinstance(items, list) or not items:
        raise WebhookRefused("no notifications")
    rows = {
        row.subscription_id: row
        for row in ErpSubscription.objects.filter(
            connection=connection,
            subscription_id__in=[str(item.get("subscriptionId") or "") for item in items],
        ).exclude(subscription_id="")
    }
    for item in items:
        row = rows.get(str(item.get("subscriptionId") or ""))
        given = str(item.get("clientState") or "")
        if row is None or not hmac.compare_digest(given.encode(), row.client_state.encode()):
            raise WebhookRefused("unknown subscription or wrong clientState")
    connector = connector_for(connection)
    try:
        streams: set[str] = connector.webhook_streams(payload)  # type: ignore[attr-defined]
    finally:
        connector.close()
    ErpSubscription.objects.filter(pk__in=[row.pk for row in rows.values()]).update(
        last_notification_at=timezone.now()
    )
    if streams:
        watcher.streams_request(connection.pk, streams)
    return streams
