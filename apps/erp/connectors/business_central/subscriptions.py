"""Business Central webhook subscriptions (learn: api-reference/v2.0/dynamics-subscriptions;
api/dynamics_subscriptions_create, api/dynamics_subscriptions_update): the portal subscribes to the
collections its pulls read; BC POSTs a notification (no entity data) when one changes, and the portal
pulls the streams it names. Subscriptions expire after three days and are renewed with a PATCH
(If-Match). Stock has no webhook (item ledger entries are not subscribable): it stays polled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.erp.connectors.business_central.client import BusinessCentralClient, StaleRecord
from apps.erp.connectors.business_central.common import parse_time

# Each subscribable collection and the pull streams its changes concern. A payment term's change reaches
# customers; an invoice's reaches the order it invoices.
WEBHOOK_STREAMS: dict[str, frozenset[str]] = {
    "customers": frozenset({"customers"}),
    "paymentTerms": frozenset({"customers"}),
    "items": frozenset({"products"}),
    "salesOrders": frozenset({"orders"}),
    "salesInvoices": frozenset({"invoices", "orders"}),
    "salesCreditMemos": frozenset({"invoices"}),
}
_RESOURCE = re.compile(r"companies\([^)]*\)/(\w+)")


@dataclass(frozen=True)
class SubscriptionState:
    subscription_id: str
    resource: str
    client_state: str
    expires_at: datetime
    etag: str


def _state(body: dict[str, Any]) -> SubscriptionState:
    return SubscriptionState(
        subscription_id=str(body["subscriptionId"]),
        resource=str(body["resource"]),
        client_state=str(body.get("clientState") or ""),
        expires_at=parse_time(body["expirationDateTime"]),
        etag=str(body.get("@odata.etag") or ""),
    )


def webhook_streams(payload: dict[str, Any]) -> set[str]:
    """The pull streams a notification body names (``{"value": [{resource, changeType, …}]}``)."""
    streams: set[str] = set()
    for notification in payload.get("value") or []:
        match = _RESOURCE.search(str(notification.get("resource") or ""))
        if match:
            streams |= WEBHOOK_STREAMS.get(match.group(1), frozenset())
    return streams


class BusinessCentralSubscriptions:
    def __init__(self, client: BusinessCentralClient) -> None:
        self.client = client

    def resource(self, entity_set: str) -> str:
        return f"/api/v2.0/companies({self.client.company_id})/{entity_set}"

    def subscribe(self, entity_set: str, notification_url: str, client_state: str) -> SubscriptionState:
        """POST /subscriptions; BC calls ``notification_url`` with a validation token first (the portal's
        endpoint answers it), so this returns only once the handshake has passed."""
        body = {
            "notificationUrl": notification_url,
            "resource": self.resource(entity_set),
            "clientState": client_state,
        }
        return _state(self.client.request("POST", "/subscriptions", body=body))

    def renew(
        self, subscription_id: str, etag: str, notification_url: str, client_state: str
    ) -> SubscriptionState:
        """PATCH with If-Match (the handshake is repeated); a stale ETag: read the subscription again and
        renew with its current one."""
        path = f"/subscriptions('{subscription_id}')"
        body = {"notificationUrl": notification_url, "clientState": client_state}
        try:
            return _state(self.client.request("PATCH", path, body=body, headers={"If-Match": etag or "*"}))
        except StaleRecord:
            current = self.client.request("GET", path)
            return _state(
                self.client.request("PATCH", path, body=body, headers={"If-Match": current["@odata.etag"]})
            )

    def unsubscribe(self, subscription_id: str) -> None:
        self.client.request("DELETE", f"/subscriptions('{subscription_id}')", headers={"If-Match": "*"})
