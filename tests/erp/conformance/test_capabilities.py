"""The ``Capabilities`` values not asserted elsewhere in the suite, each for the value the connector declares
and for the fallback: ``customer_holds`` (a credit hold put on and lifted in the ERP reaches the customer
pull, or an ERP without holds never reports one) and ``credit_memo_amount_paid`` (a credit note's partial
refund shows as its amount paid, or only its whole refund shows, as paid) and ``change_notifications``
(the ERP calls the portal when a customer changes, or the connector offers no subscription and polling
is all there is) and ``product_cost`` (a cost set in the ERP comes with the product pull, none where
nobody costed the product). Written against the ``Connector`` protocol and the driver only (and, for change
notifications, the connector's subscription API that ``apps.erp.webhooks`` uses)."""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest

from apps.erp import webhooks
from apps.erp.connectors.base import ErpBusinessError
from apps.erp.models import ErpSubscription
from tests.erp.conformance.conftest import ConformanceErp
from tests.erp.conformance.test_connector_conformance import TICK, _order, _run


def test_a_credit_hold_put_on_in_the_erp_comes_with_the_next_customer_pull_and_a_lift_takes_it_off(
    erp: ConformanceErp,
) -> None:
    held, other, _ = erp.driver.customers()
    before = _run(erp, "customers")
    assert not any(record.on_hold or record.hold_reason for record in before.values())  # seeded: none held
    high_water = max(record.changed_at for record in before.values())

    erp.driver.hold_customer(held.erp_id, True)
    on = _run(erp, "customers", since=high_water + TICK)
    everyone_on = _run(erp, "customers")

    if not erp.connector.capabilities.customer_holds:
        # The ERP has no credit hold (Odoo): the driver's hold changes nothing, so nothing is pulled
        # again and no customer is ever on hold (holds are set in the portal).
        assert on == {}
        assert everyone_on == before
        erp.driver.hold_customer(held.erp_id, False)
        assert _run(erp, "customers") == before
        return

    assert list(on) == [held.erp_id]  # only the held customer changed
    assert on[held.erp_id].on_hold
    assert on[held.erp_id].hold_reason.strip()
    assert on[held.erp_id].changed_at > high_water
    assert [key for key, record in everyone_on.items() if record.on_hold] == [held.erp_id]
    assert (everyone_on[other.erp_id].on_hold, everyone_on[other.erp_id].hold_reason) == (False, "")

    erp.driver.hold_customer(held.erp_id, False)
    off = _run(erp, "customers", since=on[held.erp_id].changed_at + TICK)

    assert list(off) == [held.erp_id]
    assert (off[held.erp_id].on_hold, off[held.erp_id].hold_reason) == (False, "")
    assert off[held.erp_id].changed_at > on[held.erp_id].changed_at
    assert not any(record.on_hold for record in _run(erp, "customers").values())


def test_a_credit_note_has_a_negative_total_and_shows_its_refunds_as_the_erp_keeps_them(
    erp: ConformanceErp,
) -> None:
    customer = erp.driver.customers()[1]
    note_id = erp.driver.credit_note(customer.erp_id, Decimal("250.00"))

    posted = _run(erp, "invoices")[note_id]

    assert (posted.customer_erp_id, posted.currency, posted.state, posted.sale_references) == (
        customer.erp_id,
        erp.driver.currency,
        "posted",
        [],
    )
    assert (type(posted.total_amount), type(posted.amount_paid)) == (Decimal, Decimal)
    assert (posted.total_amount, posted.amount_paid) == (Decimal("-250.00"), Decimal(0))
    assert posted.number
    assert posted.invoice_date is not None

    erp.driver.refund_credit_note(note_id, Decimal("100.00"))  # a partial refund
    partly = _run(erp, "invoices")[note_id]

    assert (partly.erp_id, partly.number, partly.state, partly.total_amount) == (
        note_id,
        posted.number,
        "posted",
        Decimal("-250.00"),
    )
    if erp.connector.capabilities.credit_memo_amount_paid:
        # What was refunded, with the note's sign; the refund is a change the next run reads.
        assert partly.amount_paid == Decimal("-100.00")
        assert partly.changed_at > posted.changed_at
        assert list(_run(erp, "invoices", since=posted.changed_at + TICK)) == [note_id]
    else:
        # The ERP keeps no refunded amount on a credit note (Business Central: no remainingAmount): a
        # partial refund does not show, the note is still wholly open.
        assert partly.amount_paid == Decimal(0)

    erp.driver.refund_credit_note(note_id, Decimal("150.00"))  # the rest
    (paid,) = _run(erp, "invoices", since=partly.changed_at + TICK).values()

    assert (paid.erp_id, paid.number, paid.state, paid.total_amount, paid.amount_paid) == (
        note_id,
        posted.number,
        "paid",
        Decimal("-250.00"),
        Decimal("-250.00"),
    )
    assert (type(paid.total_amount), type(paid.amount_paid)) == (Decimal, Decimal)
    assert paid.changed_at > partly.changed_at


class _Receiver:
    """A notification URL served by the test on a free loopback port: it answers the validation handshake
    the documented way (200, the ``validationToken`` query parameter echoed as plain text; learn:
    api-reference/v2.0/dynamics-subscriptions) and keeps the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if "validationToken" in query:
                    token = query["validationToken"][0]
                    with receiver.lock:
                        receiver.tokens.append(token)
                    text = token.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                    return
                if self.command == "POST":
                    with receiver.lock:
                        receiver.bodies.append(json.loads(raw))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/erp/webhooks/notify/"

    def received(self, seconds: float = 10) -> list[dict[str, Any]]:
        """The bodies POSTed so far, waiting up to ``seconds`` for a first one."""
        deadline = time.monotonic() + seconds
        while True:
            with self.lock:
                if self.bodies or time.monotonic() >= deadline:
                    return list(self.bodies)
            time.sleep(0.05)


@contextmanager
def _receiving() -> Iterator[_Receiver]:
    receiver = _Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(timeout=5)


def test_a_changed_customer_is_polled_and_where_the_erp_notifies_it_calls_the_portal(
    erp: ConformanceErp, settings: Any
) -> None:
    customer = erp.driver.customers()[1]
    mark = max(record.changed_at for record in _run(erp, "customers").values())
    assert "customers" not in erp.connector.changed_streams({"customers": mark})

    if not erp.connector.capabilities.change_notifications:
        # The ERP calls no one (Tryton, Odoo): no subscription API, so the renewal task subscribes
        # nothing even with the portal's public address set, and polling is the only way a change comes.
        assert not hasattr(erp.connector, "subscribe")
        assert not hasattr(erp.connector, "webhook_resources")
        settings.ERP_WEBHOOK_BASE_URL = "https://portal.example.com"
        report = webhooks.subscriptions_renew(connection=erp.connection)
        assert (report.subscribed, report.renewed, report.failed) == ([], [], [])
        assert not ErpSubscription.objects.filter(connection=erp.connection).exists()
        erp.driver.touch("customers", [customer.erp_id])
        erp.driver.deliver_notifications()  # nothing to deliver
        assert "customers" in erp.connector.changed_streams({"customers": mark})  # the fallback
        return

    connector = cast(webhooks.Subscribing, erp.connector)
    assert "customers" in connector.webhook_resources()
    client_state = secrets.token_urlsafe(32)
    with _receiving() as receiver:
        subscription = connector.subscribe("customers", receiver.url, client_state)
        assert len(receiver.tokens) == 1  # the handshake passed before the subscription was made
        assert subscription.subscription_id
        assert subscription.client_state == client_state
        assert receiver.bodies == []  # nothing changed yet

        erp.driver.touch("customers", [customer.erp_id])
        erp.driver.deliver_notifications()
        bodies = receiver.received()

    assert bodies, "the ERP never called the notification URL"
    notifications = [item for body in bodies for item in body["value"]]
    assert {(item["subscriptionId"], item["clientState"]) for item in notifications} == {
        (subscription.subscription_id, client_state)
    }
    assert any(customer.erp_id in item["resource"] for item in notifications)
    assert all("customers" in connector.webhook_streams(body) for body in bodies)
    # Polling stays the fallback (a lost notification): the change is there to see as well.
    assert "customers" in erp.connector.changed_streams({"customers": mark})


def test_a_cost_set_in_the_erp_comes_with_the_next_product_pull_and_an_uncosted_product_has_none(
    erp: ConformanceErp,
) -> None:
    product = erp.driver.new_product("SKU-COST-1")
    before = _run(erp, "products")
    assert before[product].cost_price is None  # nobody costed it yet
    high_water = max(record.changed_at for record in before.values())

    erp.driver.set_product_cost(product, Decimal("7.2500"))
    costed = _run(erp, "products", since=high_water + TICK)
    everyone = _run(erp, "products")

    if not erp.connector.capabilities.product_cost:
        # The connector reads no cost: every product comes without one (quotes show no margin).
        assert all(record.cost_price is None for record in everyone.values())
        return

    assert product in costed
    assert costed[product].cost_price == Decimal("7.25")
    assert everyone[product].cost_price == Decimal("7.25")
    assert everyone[erp.driver.product_erp_id()].cost_price is not None  # the seeded catalogue is costed


DOCUMENT_TYPES = {"application/pdf", "application/vnd.oasis.opendocument.text"}


def test_a_posted_invoice_and_a_credit_note_come_as_the_erps_documents_or_none_at_all(
    erp: ConformanceErp,
) -> None:
    """``invoice_documents``: the ERP's own rendering of a posted invoice and of a credit note, the same
    document each time it is asked, named after its number; an unknown invoice is a business error. An
    ERP without documents refuses every one with a business error."""
    customer, product = erp.driver.customers()[0], erp.driver.product_erp_id()
    (pushed,) = erp.connector.push_orders([_order("PO-CONF-DOC", customer, product, ("2", "5.0000"))])
    invoice_id = erp.driver.invoice_order(pushed.erp_id)
    note_id = erp.driver.credit_note(customer.erp_id, Decimal("4.00"))
    records = _run(erp, "invoices")

    if not erp.connector.capabilities.invoice_documents:
        for erp_id in (invoice_id, note_id):
            with pytest.raises(ErpBusinessError):
                erp.connector.invoice_document(erp_id)
        return

    for erp_id in (invoice_id, note_id):
        document = erp.connector.invoice_document(erp_id)
        assert document.content_type in DOCUMENT_TYPES
        assert document.content
        assert document.filename.startswith(records[erp_id].number.replace("/", "-"))
        assert "/" not in document.filename
        assert erp.connector.invoice_document(erp_id).content == document.content
    with pytest.raises(ErpBusinessError):
        erp.connector.invoice_document(erp.driver.unknown_customer_erp_id())
