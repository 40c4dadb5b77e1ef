"""Business Central's webhook subscriptions in the simulator (fact sheet §7, learn: api-reference/v2.0/
dynamics-subscriptions; api/dynamics_subscriptions_create; api/dynamics_subscriptions_update)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tools.erp_sim.business_central.odata import ODataError, timestamp

# learn: api-reference/v2.0/dynamics-subscriptions — entities that support webhooks (salesShipments don't).
WEBHOOK_SETS = {"customers", "items", "paymentTerms", "salesOrders", "salesInvoices", "salesCreditMemos"}
EXPIRY = timedelta(days=3)  # a subscription expires after three days unless renewed
MAX_SUBSCRIPTIONS = 200  # learn: administration/operational-limits-online — 200 per environment
MAX_CLIENT_STATE = 2048
COLLECTION_THRESHOLD = 1000  # more changes than this in one window: one "collection" notification
RETRY_STATUSES = {408, 429} | set(range(500, 600))  # retried over 36 h; any other error deletes


@dataclass
class Subscription:
    subscription_id: str
    notification_url: str
    resource: str
    client_state: str
    expires_at: datetime
    modified_at: datetime
    version: int = 1

    def body(self) -> dict[str, Any]:
        return {
            "@odata.etag": f'W/"{self.subscription_id}-{self.version}"',
            "subscriptionId": self.subscription_id,
            "notificationUrl": self.notification_url,
            "resource": self.resource,
            "userId": "00000000-0000-0000-0000-000000000001",
            "lastModifiedDateTime": timestamp(self.modified_at),
            "clientState": self.client_state,
            "expirationDateTime": timestamp(self.expires_at),
            "systemCreatedAt": timestamp(self.modified_at),
        }


@dataclass
class Pending:
    """Changes waiting for one subscription's coalescing window."""

    first_at: float
    since: datetime
    changes: dict[tuple[str, str], str] = field(default_factory=dict)  # (resource, id) -> changeType
    count: int = 0
    attempts: int = 0
    due_at: float = 0.0


@dataclass
class Delivery:
    url: str
    status: int
    body: dict[str, Any]


class Webhooks:
    """Subscriptions and their notifications. ``delay`` is BC's coalescing window (about 30 s after the
    first change, fact sheet §7), shortened in tests; ``retry_delay`` spaces redeliveries (BC retries over
    36 h); ``max_attempts`` bounds them here."""

    def __init__(
        self, clock: Any, delay: float = 30.0, retry_delay: float = 1.0, max_attempts: int = 5
    ) -> None:
        self.clock = clock
        self.delay = delay
        self.retry_delay = retry_delay
        self.max_attempts = max_attempts
        self.subscriptions: dict[str, Subscription] = {}
        self.pending: dict[str, Pending] = {}
        self.deliveries: list[Delivery] = []
        self.handshakes: list[tuple[str, int]] = []
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the subscriber handshake ------------------------------------------------------------------------
    def _handshake(self, url: str) -> None:
        """BC calls notificationUrl?validationToken=… and needs 200 with the token as plain-text body, else
        no subscription (learn: api-reference/v2.0/dynamics-subscriptions). The method: still unconfirmed
        (the v2.0, v1.0 and dataverse subscription pages say "a request to the notificationUrl" only);
        POST by common practice (Graph and OneDrive document POST), so the simulator POSTs and the portal
        answers GET as well."""
        token = uuid.uuid4().hex
        separator = "&" if "?" in url else "?"
        request = urllib.request.Request(  # noqa: S310 - the subscriber's own URL, given by the test
            f"{url}{separator}validationToken={urllib.parse.quote(token)}", data=b"", method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                status, text = answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, ""
        except OSError:
            status, text = 0, ""
        self.handshakes.append((url, status))
        if status != 200 or text != token:
            # The docs say the subscription is not created; the error code BC answers is unconfirmed.
            raise ODataError(
                400,
                "BadRequest",
                f"The notification URL did not answer the validation token (status {status}).",
            )

    def create(self, body: dict[str, Any], known_resource: Any) -> dict[str, Any]:
        url = body.get("notificationUrl") or ""
        resource = body.get("resource") or ""
        client_state = body.get("clientState") or ""
        if not url or not resource:
            raise ODataError(
                400, "BadRequest_RequiredParamNotProvided", "notificationUrl and resource are required."
            )
        if len(client_state) > MAX_CLIENT_STATE:
            raise ODataError(
                400, "Application_StringExceededLength", "clientState is longer than 2048 characters."
            )
        if not known_resource(resource):
            raise ODataError(
                400, "BadRequest_ResourceNotFound", f"The resource '{resource}' cannot be subscribed to."
            )
        with self.lock:
            if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
                raise ODataError(400, "BadRequest", "The environment has 200 subscriptions already.")
        self._handshake(url)
        now = self.clock()
        subscription = Subscription(uuid.uuid4().hex, url, resource, client_state, now + EXPIRY, now)
        with self.lock:
            self.subscriptions[subscription.subscription_id] = subscription
        return subscription.body()

    def get(self, subscription_id: str) -> Subscription:
        with self.lock:
            subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise ODataError(
                404, "BadRequest_NotFound", f"The subscription '{subscription_id}' does not exist."
            )
        return subscription

    def renew(self, subscription_id: str, if_match: str | None, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH subscriptions('{id}'): If-Match required, the handshake is repeated, the expiry moves three
        days on (learn: api/dynamics_subscriptions_update)."""
        subscription = self.get(subscription_id)
        if not if_match:
            raise ODataError(
                400, "BadRequest_InvalidToken", "Could not validate the client concurrency token."
            )
        if if_match != "*" and if_match != subscription.body()["@odata.etag"]:
            raise ODataError(409, "Request_EntityChanged", "Another user has already changed the record.")
        url = body.get("notificationUrl") or subscription.notification_url
        self._handshake(url)
        now = self.clock()
        with self.lock:
            subscription.notification_url = url
            if "clientState" in body:
                subscription.client_state = body["clientState"] or ""
            subscription.expires_at = now + EXPIRY
            subscription.modified_at = now
            subscription.version += 1
        return subscription.body()

    def delete(self, subscription_id: str) -> None:
        self.get(subscription_id)
        with self.lock:
            self.subscriptions.pop(subscription_id, None)
            self.pending.pop(subscription_id, None)

    def listing(self) -> list[dict[str, Any]]:
        with self.lock:
            return [subscription.body() for subscription in self.subscriptions.values()]

    # -- changes and notifications -----------------------------------------------------------------------
    def changed(self, collection: str, record_id: str, change_type: str, at: datetime) -> None:
        """A record of ``collection`` (``/api/v2.0/companies(<id>)/<set>``) changed."""
        with self.lock:
            for subscription in self.subscriptions.values():
                if subscription.resource.lower() != collection.lower() or subscription.expires_at <= at:
                    continue
                pending = self.pending.get(subscription.subscription_id)
                if pending is None:
                    pending = self.pending[subscription.subscription_id] = Pending(
                        time.monotonic(), at, due_at=time.monotonic() + self.delay
                    )
                pending.count += 1
                key = (f"{collection}({record_id})", record_id)
                if pending.changes.get(key) != "created":  # created then updated is still "created"
                    pending.changes[key] = change_type

    def _payload(self, subscription: Subscription, pending: Pending) -> dict[str, Any]:
        base = {
            "subscriptionId": subscription.subscription_id,
            "clientState": subscription.client_state,
            "expirationDateTime": timestamp(subscription.expires_at),
        }
        if pending.count > COLLECTION_THRESHOLD:
            # Over 1,000 changes in the window: one "collection" notification whose resource filters on
            # lastModifiedDateTime (learn: api-reference/v2.0/dynamics-subscriptions).
            since = timestamp(pending.since - timedelta(milliseconds=1))
            return {
                "value": [
                    {
                        **base,
                        "resource": f"{subscription.resource}?$filter=lastModifiedDateTime gt {since}",
                        "changeType": "collection",
                        "lastModifiedDateTime": timestamp(self.clock()),
                    }
                ]
            }
        return {
            "value": [
                {
                    **base,
                    "resource": resource,
                    "changeType": change_type,
                    "lastModifiedDateTime": timestamp(self.clock()),
                }
                for (resource, _), change_type in pending.changes.items()
            ]
        }

    def deliver_due(self, *, force: bool = False) -> int:
        """Send every notification whose window has passed (all of them with ``force``)."""
        now = time.monotonic()
        with self.lock:
            due = [
                (self.subscriptions[key], pending)
                for key, pending in self.pending.items()
                if key in self.subscriptions and (force or pending.due_at <= now)
            ]
            for subscription, _ in due:
                del self.pending[subscription.subscription_id]
        sent = 0
        for subscription, pending in due:
            payload = self._payload(subscription, pending)
            status = self._post(subscription.notification_url, payload)
            with self.lock:
                self.deliveries.append(Delivery(subscription.notification_url, status, payload))
            sent += 1
            if 200 <= status < 300:
                continue
            if status in RETRY_STATUSES or status == 0:
                # 408, 429 and 5xx are retried (BC: for up to 36 hours); the simulator bounds the attempts.
                pending.attempts += 1
                if pending.attempts < self.max_attempts:
                    pending.due_at = time.monotonic() + self.retry_delay
                    with self.lock:
                        current = self.pending.setdefault(subscription.subscription_id, pending)
                        if current is not pending:
                            current.changes.update(pending.changes)
                            current.count += pending.count
            else:
                # Any other error code deletes the subscription (learn: .../dynamics-subscriptions).
                with self.lock:
                    self.subscriptions.pop(subscription.subscription_id, None)
        return sent

    @staticmethod
    def _post(url: str, payload: dict[str, Any]) -> int:
        request = urllib.request.Request(  # noqa: S310 - the subscriber's own URL
            url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return 0

    # -- background delivery -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bc-sim-webhooks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.deliver_due()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
