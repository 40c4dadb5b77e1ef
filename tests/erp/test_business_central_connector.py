"""What the Business Central connector does beyond the conformance suite, against the simulator over real
HTTP: tokens renewed before expiry and kept in memory only, the company by id or name, back-off on 429
and 5xx, a stale ETag on a cancel handled by reading again, ``$batch`` look-ups."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from io import BytesIO

import pytest
from django.forms.models import model_to_dict
from pypdf import PdfReader

from apps.erp.connectors import connector_for
from apps.erp.connectors.base import (
    AddressRecord,
    Cursor,
    ErpBusinessError,
    ErpTransientError,
    OrderCancel,
    OrderLinePush,
    OrderPush,
)
from apps.erp.connectors.business_central import BusinessCentralConnector
from apps.erp.connectors.business_central import client as bc_client
from apps.erp.models import ErpConnection
from tests.erp.conformance.business_central_driver import bc_connection
from tools.erp_sim.business_central import CLIENT_SECRET, BusinessCentralSimulator


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[BusinessCentralSimulator]:
    monkeypatch.setenv("BC_CLIENT_SECRET", CLIENT_SECRET)
    simulator = BusinessCentralSimulator().start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def connector(sim: BusinessCentralSimulator) -> Iterator[BusinessCentralConnector]:
    made = connector_for(bc_connection(sim))
    assert isinstance(made, BusinessCentralConnector)
    delays: list[float] = []
    made.client.sleep = delays.append  # back-off recorded, not slept
    made.delays = delays  # type: ignore[attr-defined]
    try:
        yield made
    finally:
        made.close()


def _order(sim: BusinessCentralSimulator, reference: str, customer: str = "CUST-001") -> OrderPush:
    customer_id = sim.customer_id(customer)
    row = sim.record("customers", customer_id)
    return OrderPush(
        reference=reference,
        customer_erp_id=customer_id,
        ship_to=AddressRecord(
            customer_id, row["addressLine1"], row["city"], row["postalCode"], row["state"], "US"
        ),
        lines=[OrderLinePush(sim.item_id("SKU-00002"), Decimal("3"), Decimal("12.3450"))],
    )


def test_one_token_serves_until_shortly_before_it_expires_and_lives_in_memory_only(
    sim: BusinessCentralSimulator, db: None
) -> None:
    sim.token_lifetime = 123  # the connector renews 120 s (or a tenth of the life) before: 3 s to use it
    connection = bc_connection(sim)
    connection.save()
    connector = connector_for(connection)
    try:
        started = time.monotonic()
        connector.pull_customers(Cursor(), 3)
        connector.pull_products(Cursor(), 3)
        assert sim.token_requests == 1 or time.monotonic() - started > 3  # reused while it has time left
        # Its renewal time has come (3 s of the 123): a new one, long before BC would refuse the old one.
        time.sleep(max(0.0, started + 3.2 - time.monotonic()))
        connector.pull_customers(Cursor(), 3)
        assert (sim.token_requests, sim.rejected_tokens) == (2, 0)

        # Revoked or expired early: the 401 brings one new token and the same request again.
        sim.expire_tokens()
        assert connector.pull_customers(Cursor(), 3).records
        assert (sim.token_requests, sim.rejected_tokens) == (3, 1)
    finally:
        connector.close()
    stored = str(model_to_dict(ErpConnection.objects.get(pk=connection.pk)))
    assert all(token not in stored for token in sim.tokens)
    assert CLIENT_SECRET not in stored  # the secret stays in the environment variable the row names


def test_the_company_is_found_by_its_id_option_or_by_name(sim: BusinessCentralSimulator) -> None:
    other = next(c for c in sim.companies.values() if c.name == "My Company")
    by_id = bc_connection(sim)
    by_id.options = {**by_id.options, "company_id": other.id}
    connector = connector_for(by_id)
    try:
        assert connector.pull_customers(Cursor(), 10).records == []  # the empty company, not CRONUS
    finally:
        connector.close()

    unknown = bc_connection(sim)
    unknown.database = "No Such Company"
    connector = connector_for(unknown)
    try:
        health = connector.health()
    finally:
        connector.close()
    assert not health.reachable
    assert "No Such Company" in health.detail
    assert "CRONUS USA, Inc." in health.detail


def test_reads_back_off_on_429_and_5xx_and_give_up_as_transient(
    sim: BusinessCentralSimulator, connector: BusinessCentralConnector
) -> None:
    connector.pull_customers(Cursor(), 3)  # token and company first
    before = len(sim.api_requests("GET", "/customers"))
    sim.fail_next(1, 429)
    sim.fail_next(1, 503)
    page = connector.pull_customers(Cursor(), 3)

    assert len(page.records) == 3
    assert len(sim.api_requests("GET", "/customers")) == before + 3
    first, second = connector.delays  # type: ignore[attr-defined]
    assert 0.125 <= first <= 0.375
    assert 0.25 <= second <= 0.75  # exponential, with jitter

    sim.fail_next(1, 429, retry_after=3)
    connector.pull_customers(Cursor(), 3)
    assert connector.delays[-1] == 3  # type: ignore[attr-defined]

    sim.fail_next(10, 429)
    with pytest.raises(ErpTransientError, match="429"):
        connector.pull_customers(Cursor(), 3)
    assert len(sim.api_requests("GET", "/customers")) == before + 3 + 2 + bc_client.MAX_ATTEMPTS
    sim.faults.clear()


def test_a_throttled_create_is_sent_again_and_makes_one_order(
    sim: BusinessCentralSimulator, connector: BusinessCentralConnector
) -> None:
    sim.on_next_write(lambda: sim.fail_next(1, 429))  # BC throttles the create before doing anything

    (result,) = connector.push_orders([_order(sim, "PO-THROTTLED")])

    assert (result.created, result.error, result.state) == (True, "", "quotation")
    assert len(sim.api_requests("POST", "/salesOrders")) == 2
    (order,) = [o for o in sim.records("salesOrders") if o["externalDocumentNumber"] == "PO-THROTTLED"]
    assert [(line["quantity"], line["unitPrice"]) for line in order["_lines"]] == [
        (Decimal("3"), Decimal("12.3450"))  # the portal's frozen price, exactly
    ]


def test_orders_are_looked_up_in_one_batch_before_the_missing_ones_are_created(
    sim: BusinessCentralSimulator, connector: BusinessCentralConnector
) -> None:
    connector.push_orders([_order(sim, "PO-B1")])
    batches = len(sim.api_requests("POST", "$batch"))

    results = connector.push_orders(
        [_order(sim, "PO-B1"), _order(sim, "PO-B2", "CUST-002"), _order(sim, "PO-B3", "CUST-004")]
    )

    assert [(r.reference, r.created) for r in results] == [("PO-B1", False), ("PO-B2", True), ("PO-B3", True)]
    assert len(sim.api_requests("POST", "$batch")) == batches + 1  # six look-ups, one call
    assert len(sim.api_requests("POST", "/salesOrders")) == 3


def test_a_cancel_whose_etag_went_stale_reads_the_order_again(
    sim: BusinessCentralSimulator, connector: BusinessCentralConnector
) -> None:
    (edited, released) = connector.push_orders([_order(sim, "PO-STALE-1"), _order(sim, "PO-STALE-2")])
    customer = sim.customer_id("CUST-001")

    # A person edits the order between the connector's read and its DELETE: 409, read again, deleted.
    sim.on_next_write(lambda: sim.edit("salesOrders", edited.erp_id, shipToContact="Dock 4"))
    (cancelled,) = connector.cancel_orders([OrderCancel("PO-STALE-1", customer)])

    assert (cancelled.erp_id, cancelled.state, cancelled.error) == (edited.erp_id, "cancelled", "")
    assert len(sim.api_requests("DELETE", edited.erp_id)) == 2
    assert edited.erp_id not in {o["id"] for o in sim.records("salesOrders")}

    # A person releases it meanwhile: read again, now it is not the portal's to cancel.
    sim.on_next_write(lambda: sim.release(released.erp_id))
    (refused,) = connector.cancel_orders([OrderCancel("PO-STALE-2", customer)])

    assert (refused.erp_id, refused.state) == (released.erp_id, "confirmed")
    assert "released" in refused.error
    assert released.erp_id in {o["id"] for o in sim.records("salesOrders")}


def test_an_invoiced_order_bc_deleted_is_found_through_its_invoice(
    sim: BusinessCentralSimulator, connector: BusinessCentralConnector
) -> None:
    (pushed,) = connector.push_orders([_order(sim, "PO-GONE")])
    invoice = sim.ship_and_invoice(pushed.erp_id)
    assert pushed.erp_id not in {o["id"] for o in sim.records("salesOrders")}

    (again,) = connector.push_orders([_order(sim, "PO-GONE")])  # a late retry: found, not made again
    (cancel,) = connector.cancel_orders([OrderCancel("PO-GONE", sim.customer_id("CUST-001"))])
    (state,) = connector.pull_orders(Cursor(), 100).records

    assert (again.erp_id, again.number, again.created) == (pushed.erp_id, pushed.number, False)
    assert (cancel.erp_id, cancel.state) == (pushed.erp_id, "confirmed")
    assert cancel.error
    assert (state.erp_id, state.shipment_state, state.invoice_state) == (
        pushed.erp_id,
        "sent",
        "awaiting payment",
    )
    sim.pay(invoice, Decimal("37.04"))  # 3 x 12.345 = 37.035 → 37.04
    (paid,) = connector.pull_orders(Cursor(since=state.changed_at), 100).records
    assert (paid.state, paid.invoice_state) == ("done", "paid")


def test_an_invoice_and_a_credit_memo_come_as_their_pdf_documents(
    sim: BusinessCentralSimulator, connector: BusinessCentralConnector
) -> None:
    (pushed,) = connector.push_orders([_order(sim, "PO-PDF")])
    invoice_id = sim.ship_and_invoice(pushed.erp_id)
    memo_id = sim.credit_memo(invoice_id, Decimal("5.00"))
    invoice_number = sim.record("salesInvoices", invoice_id)["number"]
    memo_number = sim.record("salesCreditMemos", memo_id)["number"]

    document = connector.invoice_document(invoice_id)
    memo = connector.invoice_document(memo_id)

    assert (document.content_type, document.filename) == ("application/pdf", f"{invoice_number}.pdf")
    text = PdfReader(BytesIO(document.content)).pages[0].extract_text()
    assert f"Sales Invoice {invoice_number}" in text
    assert "Total 37.04" in text
    assert memo.filename == f"{memo_number}.pdf"
    assert f"Sales Credit Memo {memo_number}" in PdfReader(BytesIO(memo.content)).pages[0].extract_text()
    with pytest.raises(ErpBusinessError, match="no sales invoice or credit memo"):
        connector.invoice_document("00000000-0000-0000-0000-000000000000")
