"""Business Central change notifications against the real portal endpoint: the simulator subscribes
through the portal's live server (validation handshake), renews a day before expiry, and its
notifications, checked by clientState, make the watcher pull the stream they name."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company
from apps.erp import inbound, watcher, webhooks
from apps.erp.connectors import connector_for
from apps.erp.models import ErpConnection, ErpSubscription
from apps.erp.watcher import Watcher
from tests.erp.conformance.business_central_driver import bc_connection
from tools.erp_sim.business_central import CLIENT_SECRET, BusinessCentralSimulator

pytestmark = pytest.mark.django_db(transaction=True)
RESOURCES = ["customers", "paymentTerms", "items", "salesOrders", "salesInvoices", "salesCreditMemos"]


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[BusinessCentralSimulator]:
    monkeypatch.setenv("BC_CLIENT_SECRET", CLIENT_SECRET)
    simulator = BusinessCentralSimulator(notification_delay=0.2).start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def connection(sim: BusinessCentralSimulator, live_server: object, settings: object) -> ErpConnection:
    settings.ERP_WEBHOOK_BASE_URL = live_server.url  # type: ignore[attr-defined]
    row = bc_connection(sim)
    row.save()
    return row


def _wait(condition: Callable[[], object], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_subscribing_passes_the_handshake_and_renewal_comes_a_day_before_expiry(
    sim: BusinessCentralSimulator, connection: ErpConnection
) -> None:
    report = webhooks.subscriptions_renew(connection=connection)

    assert sorted(report.subscribed) == sorted(RESOURCES)
    assert [status for _, status in sim.webhooks.handshakes] == [200] * len(RESOURCES)
    rows = {row.resource: row for row in ErpSubscription.objects.filter(connection=connection)}
    assert set(rows) == set(RESOURCES)
    simulated = {s.subscription_id: s for s in sim.webhooks.subscriptions.values()}
    for row in rows.values():
        assert simulated[row.subscription_id].client_state == row.client_state
        assert len(row.client_state) >= 32
        assert timedelta(days=2, hours=23) < row.expires_at - timezone.now() <= timedelta(days=3)
        assert row.etag

    # Nothing is due: a second run changes nothing.
    again = webhooks.subscriptions_renew(connection=connection)
    assert (again.subscribed, again.renewed) == ([], [])

    # A day before expiry: renewed (PATCH with If-Match, the handshake again), three days on.
    customers = rows["customers"]
    first_id, first_etag = customers.subscription_id, customers.etag
    ErpSubscription.objects.filter(pk=customers.pk).update(expires_at=timezone.now() + timedelta(hours=20))
    handshakes = len(sim.webhooks.handshakes)
    renewed = webhooks.subscriptions_renew(connection=connection)

    assert (renewed.subscribed, renewed.renewed) == ([], ["customers"])
    assert len(sim.webhooks.handshakes) == handshakes + 1
    customers.refresh_from_db()
    assert customers.subscription_id == first_id
    assert customers.expires_at - timezone.now() > timedelta(days=2, hours=23)
    assert customers.etag != first_etag

    # A stale ETag (BC's copy changed meanwhile: 409): read again and renewed all the same.
    ErpSubscription.objects.filter(pk=customers.pk).update(
        expires_at=timezone.now() + timedelta(hours=1), etag='W/"stale"'
    )
    assert webhooks.subscriptions_renew(connection=connection).renewed == ["customers"]


def test_without_a_base_url_nothing_is_subscribed(
    sim: BusinessCentralSimulator, connection: ErpConnection, settings: object
) -> None:
    settings.ERP_WEBHOOK_BASE_URL = ""  # type: ignore[attr-defined]
    report = webhooks.subscriptions_renew(connection=connection)
    assert (report.subscribed, report.renewed) == ([], [])
    assert not ErpSubscription.objects.exists()
    assert sim.webhooks.subscriptions == {}


def test_the_endpoint_answers_the_handshake_and_refuses_a_wrong_client_state(
    sim: BusinessCentralSimulator, connection: ErpConnection, live_server: object
) -> None:
    url = f"{live_server.url}/erp/webhooks/{connection.pk}/"  # type: ignore[attr-defined]
    handshake = httpx.post(url, params={"validationToken": "tok-123"})
    assert (handshake.status_code, handshake.text) == (200, "tok-123")
    assert handshake.headers["Content-Type"].startswith("text/plain")
    by_get = httpx.get(url, params={"validationToken": "tok-456"})
    assert (by_get.status_code, by_get.text) == (200, "tok-456")
    assert httpx.get(url).status_code == 405
    webhooks.subscriptions_renew(connection=connection)
    row = ErpSubscription.objects.get(connection=connection, resource="customers")
    notification = {
        "value": [
            {
                "subscriptionId": row.subscription_id,
                "clientState": row.client_state[:-1] + ("x" if row.client_state[-1] != "x" else "y"),
                "expirationDateTime": "2030-01-01T00:00:00Z",
                "resource": f"/api/v2.0/companies({sim.company.id})/customers({sim.customer_id('CUST-001')})",
                "changeType": "updated",
                "lastModifiedDateTime": "2030-01-01T00:00:00Z",
            }
        ]
    }

    refused = httpx.post(url, json=notification)

    assert refused.status_code == 403
    assert watcher.streams_requested(connection.pk, ["customers"]) == set()
    row.refresh_from_db()
    assert row.last_notification_at is None
    assert httpx.post(f"{live_server.url}/erp/webhooks/999999/", json=notification).status_code == 404  # type: ignore[attr-defined]

    notification["value"][0]["clientState"] = row.client_state
    accepted = httpx.post(url, json=notification)
    assert accepted.status_code == 202
    assert watcher.streams_requested(connection.pk, ["customers", "orders"]) == {"customers"}


def test_a_change_in_business_central_is_pulled_after_its_notification(
    sim: BusinessCentralSimulator, connection: ErpConnection
) -> None:
    connector = connector_for(connection)
    try:
        assert inbound.pull_stream(connection=connection, stream=CUSTOMERS, connector=connector).error == ""
    finally:
        connector.close()
    acme = Company.objects.get(erp_customer_code="CUST-001")
    webhooks.subscriptions_renew(connection=connection)

    sim.set_blocked(sim.customer_id("CUST-001"), "Ship")  # a credit hold put on in BC
    _wait(lambda: any(d.status == 202 for d in sim.webhooks.deliveries))

    report = Watcher().watch_once(connection=connection)

    assert report.requested == ["customers"]
    assert CUSTOMERS in report.changed
    acme.refresh_from_db()
    assert acme.hold_source == Company.HoldSource.ERP
    row = ErpSubscription.objects.get(connection=connection, resource="customers")
    assert row.last_notification_at is not None
    assert watcher.streams_requested(connection.pk, [CUSTOMERS]) == set()  # taken by that look

    # A notification whose secret is not the portal's is refused: BC drops that subscription.
    ErpSubscription.objects.filter(pk=row.pk).update(client_state="rotated-elsewhere")
    sim.set_credit_limit(sim.customer_id("CUST-002"), Decimal("1234"))
    _wait(lambda: any(d.status == 403 for d in sim.webhooks.deliveries))
    assert watcher.streams_requested(connection.pk, [CUSTOMERS]) == set()
    _wait(lambda: row.subscription_id not in sim.webhooks.subscriptions)
