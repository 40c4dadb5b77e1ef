"""The Business Central simulator refuses what Business Central refuses: one test (at least) per item of
the fact sheet's "Simulator must reproduce" checklist (/work/shared/erp-wire/business-central.md §8), over
real HTTP with httpx."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tools.erp_sim.business_central import SCOPE, BusinessCentralSimulator
from tools.erp_sim.business_central.odata import dumps


@pytest.fixture
def sim() -> Iterator[BusinessCentralSimulator]:
    simulator = BusinessCentralSimulator(notification_delay=0.2).start()
    try:
        yield simulator
    finally:
        simulator.stop()


class Api:
    """A thin httpx client: a token, the CRONUS company's base path, JSON with exact decimals."""

    def __init__(self, sim: BusinessCentralSimulator) -> None:
        self.sim = sim
        self.http = httpx.Client(timeout=10)
        self.token = self.new_token()
        self.company = sim.company.id
        self.base = f"{sim.api_url}/companies({self.company})"

    def new_token(self) -> str:
        answer = self.http.post(
            self.sim.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.sim.client_id,
                "client_secret": self.sim.client_secret,
                "scope": SCOPE,
            },
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
        url = (
            path
            if path.startswith("http")
            else f"{self.base}/{path}"
            if not path.startswith("/")
            else (f"{self.sim.api_url}{path}")
        )
        head = {
            "Authorization": f"Bearer {self.token}",
            **{k.replace("_", "-"): v for k, v in headers.items()},
        }
        if body is not None:
            head["Content-Type"] = "application/json"
        return self.http.request(method, url, content=dumps(body) if body is not None else None, headers=head)

    @staticmethod
    def json(answer: httpx.Response) -> Any:
        return json.loads(answer.text, parse_float=Decimal)

    def error(self, answer: httpx.Response) -> str:
        body = self.json(answer)
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"code", "message"}, body
        return str(body["error"]["code"])

    def order(self, number: str = "CUST-001", reference: str = "PO-1", lines: int = 1) -> dict[str, Any]:
        answer = self.call(
            "POST",
            "salesOrders",
            {
                "customerNumber": number,
                "externalDocumentNumber": reference,
                "salesOrderLines": [
                    {"lineObjectNumber": f"SKU-0000{n + 1}", "quantity": 2, "unitPrice": Decimal("1.2345")}
                    for n in range(lines)
                ],
            },
        )
        assert answer.status_code == 201, answer.text
        return dict(self.json(answer))


@pytest.fixture
def api(sim: BusinessCentralSimulator) -> Iterator[Api]:
    client = Api(sim)
    try:
        yield client
    finally:
        client.http.close()


# 1. Companies and company-scoped paths; unknown segments 404 BadRequest_ResourceNotFound.
def test_companies_are_listed_and_every_resource_lives_under_one(api: Api) -> None:
    companies = api.json(api.call("GET", "/companies"))["value"]
    assert {c["name"] for c in companies} == {"CRONUS USA, Inc.", "My Company"}
    assert all(set(c) >= {"id", "name", "displayName", "systemVersion"} for c in companies)
    assert len(api.json(api.call("GET", "customers"))["value"]) == 8
    empty = next(c["id"] for c in companies if c["name"] == "My Company")
    assert api.json(api.call("GET", f"/companies({empty})/customers"))["value"] == []

    for path in ("/customers", "widgets", "/companies(00000000-0000-0000-0000-000000000009)/customers"):
        answer = api.call("GET", path)
        assert answer.status_code == 404
        assert api.error(answer) in ("BadRequest_ResourceNotFound", "BadRequest_NotFound")
    assert api.error(api.call("GET", "widgets")) == "BadRequest_ResourceNotFound"


# 2. Bearer tokens: 401 without or with an expired one; the token answer carries expires_in.
def test_requests_need_a_live_bearer_token_from_the_client_credentials_grant(
    sim: BusinessCentralSimulator, api: Api
) -> None:
    token = api.http.post(
        sim.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
            "scope": SCOPE,
        },
    ).json()
    assert token["token_type"] == "Bearer"
    assert 3600 <= token["expires_in"] <= 5400
    wrong = api.http.post(
        sim.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": sim.client_id,
            "client_secret": "nope",
            "scope": SCOPE,
        },
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")

    missing = api.http.get(f"{api.base}/customers")
    assert (missing.status_code, api.error(missing)) == (401, "Authentication_InvalidCredentials")
    assert api.call("GET", "customers").status_code == 200
    sim.expire_tokens()
    expired = api.call("GET", "customers")
    assert (expired.status_code, api.error(expired)) == (401, "Authentication_InvalidCredentials")


# 3. $filter on lastModifiedDateTime gt, externalDocumentNumber eq, number eq, orderNumber eq.
def test_filters_select_by_change_time_and_by_the_documented_keys(
    sim: BusinessCentralSimulator, api: Api
) -> None:
    customers = api.json(api.call("GET", "customers"))["value"]
    latest = max(c["lastModifiedDateTime"] for c in customers)
    assert api.json(api.call("GET", f"customers?$filter=lastModifiedDateTime gt {latest}"))["value"] == []
    sim.edit("customers", customers[0]["id"], displayName="Renamed")
    (changed,) = api.json(api.call("GET", f"customers?$filter=lastModifiedDateTime gt {latest}"))["value"]
    assert (changed["id"], changed["displayName"]) == (customers[0]["id"], "Renamed")
    (cust,) = api.json(api.call("GET", "customers?$filter=number eq 'CUST-002'"))["value"]
    assert cust["number"] == "CUST-002"

    order = api.order(reference="PO-O'HARA")
    (found,) = api.json(api.call("GET", "salesOrders?$filter=externalDocumentNumber eq 'PO-O''HARA'"))[
        "value"
    ]
    assert found["id"] == order["id"]
    sim.ship_and_invoice(order["id"])
    (invoice,) = api.json(api.call("GET", f"salesInvoices?$filter=orderNumber eq '{order['number']}'"))[
        "value"
    ]
    assert invoice["orderId"] == order["id"]
    unknown = api.call("GET", "customers?$filter=nickname eq 'x'")
    assert unknown.status_code == 400


# 4. Server-driven paging with Prefer: odata.maxpagesize and @odata.nextLink; 413 above 20,000.
def test_pages_follow_next_links_and_the_page_size_is_capped(api: Api) -> None:
    numbers: list[str] = []
    url = f"{api.base}/items"
    pages = 0
    while url:
        answer = api.call("GET", url, Prefer="odata.maxpagesize=200")
        assert answer.headers["Preference-Applied"] == "odata.maxpagesize=200"
        body = api.json(answer)
        assert len(body["value"]) <= 200
        numbers += [item["number"] for item in body["value"]]
        url = body.get("@odata.nextLink", "")
        pages += 1
    assert pages == 3
    assert numbers == [f"SKU-{n:05d}" for n in range(1, 521)]
    whole = api.json(api.call("GET", "items"))
    assert len(whole["value"]) == 520
    assert "@odata.nextLink" not in whole
    too_big = api.call("GET", "items", Prefer="odata.maxpagesize=20001")
    assert (too_big.status_code, api.error(too_big)) == (413, "RequestEntityTooLarge")


# 5. @odata.etag on every entity, new after each write; lastModifiedDateTime moves on.
def test_every_write_gives_a_new_etag_and_a_later_change_time(api: Api) -> None:
    (customer,) = api.json(api.call("GET", "customers?$filter=number eq 'CUST-001'"))["value"]
    assert customer["@odata.etag"].startswith('W/"')
    patched = api.json(
        api.call(
            "PATCH",
            f"customers({customer['id']})",
            {"phoneNumber": "555-0100"},
            If_Match=customer["@odata.etag"],
        )
    )
    assert patched["@odata.etag"] != customer["@odata.etag"]
    assert patched["lastModifiedDateTime"] > customer["lastModifiedDateTime"]
    order = api.order()
    assert all(
        line["@odata.etag"]
        for line in api.json(api.call("GET", f"salesOrders({order['id']})/salesOrderLines"))["value"]
    )


# 6. PATCH without If-Match 400 BadRequest_InvalidToken; stale 409 Request_EntityChanged; * accepted.
def test_updates_need_a_current_etag_or_a_star(api: Api) -> None:
    (customer,) = api.json(api.call("GET", "customers?$filter=number eq 'CUST-002'"))["value"]
    path = f"customers({customer['id']})"
    missing = api.call("PATCH", path, {"phoneNumber": "1"})
    assert (missing.status_code, api.error(missing)) == (400, "BadRequest_InvalidToken")
    fresh = api.call("PATCH", path, {"phoneNumber": "2"}, If_Match=customer["@odata.etag"])
    assert fresh.status_code == 200
    stale = api.call("PATCH", path, {"phoneNumber": "3"}, If_Match=customer["@odata.etag"])
    assert (stale.status_code, api.error(stale)) == (409, "Request_EntityChanged")
    assert api.json(api.call("GET", path))["phoneNumber"] == "2"
    star = api.call("PATCH", path, {"phoneNumber": "4"}, If_Match="*")
    assert (star.status_code, api.json(star)["phoneNumber"]) == (200, "4")
    order = api.order()
    stale_delete = api.call("DELETE", f"salesOrders({order['id']})", If_Match=customer["@odata.etag"])
    assert stale_delete.status_code == 409


# 7. POST 201 with body; deep insert of lines; PATCH 200; DELETE 204; bound actions 204.
def test_create_deep_insert_update_delete_and_bound_action_statuses(
    sim: BusinessCentralSimulator, api: Api
) -> None:
    order = api.order(lines=2)
    lines = api.json(api.call("GET", f"salesOrders({order['id']})?$expand=salesOrderLines"))[
        "salesOrderLines"
    ]
    assert [(line["lineObjectNumber"], line["unitPrice"], line["amountExcludingTax"]) for line in lines] == [
        ("SKU-00001", Decimal("1.2345"), Decimal("2.47")),
        ("SKU-00002", Decimal("1.2345"), Decimal("2.47")),
    ]
    assert order["totalAmountIncludingTax"] == Decimal("4.94")
    added = api.call(
        "POST",
        f"salesOrders({order['id']})/salesOrderLines",
        {"itemId": sim.item_id("SKU-00003"), "quantity": 1, "unitPrice": 5},
    )
    assert added.status_code == 201
    patched = api.call(
        "PATCH", f"salesOrders({order['id']})", {"requestedDeliveryDate": "2026-02-01"}, If_Match="*"
    )
    assert patched.status_code == 200
    action = api.call("POST", f"salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice")
    assert (action.status_code, action.content) == (204, b"")
    other = api.order(reference="PO-2")
    assert api.call("DELETE", f"salesOrders({other['id']})", If_Match="*").status_code == 204
    assert api.call("GET", f"salesOrders({other['id']})").status_code == 404

    # A refused line refuses the whole deep insert.
    bad = api.call(
        "POST",
        "salesOrders",
        {
            "customerNumber": "CUST-001",
            "externalDocumentNumber": "PO-BAD",
            "salesOrderLines": [
                {"lineObjectNumber": "SKU-00001", "quantity": 1},
                {"lineObjectNumber": "NOPE", "quantity": 1},
            ],
        },
    )
    assert bad.status_code == 400
    assert api.json(api.call("GET", "salesOrders?$filter=externalDocumentNumber eq 'PO-BAD'"))["value"] == []


# 8. A sales order needs customerId or customerNumber.
def test_an_order_without_a_customer_is_refused(api: Api) -> None:
    answer = api.call("POST", "salesOrders", {"externalDocumentNumber": "PO-NOBODY"})
    assert (answer.status_code, api.error(answer)) == (400, "Application_DialogException")
    assert api.json(api.call("GET", "salesOrders"))["value"] == []


# 9. status is read-only (Draft / In Review / Open); there is no release action.
def test_order_status_is_read_only_and_there_is_no_release_action(
    sim: BusinessCentralSimulator, api: Api
) -> None:
    order = api.order()
    assert order["status"] == "Draft"
    write = api.call("PATCH", f"salesOrders({order['id']})", {"status": "Open"}, If_Match="*")
    assert write.status_code == 400
    release = api.call("POST", f"salesOrders({order['id']})/Microsoft.NAV.release")
    assert release.status_code == 404
    assert api.json(api.call("GET", f"salesOrders({order['id']})"))["status"] == "Draft"
    sim.release(order["id"])  # a person releases it in BC
    assert api.json(api.call("GET", f"salesOrders({order['id']})"))["status"] == "Open"


# 10. shipAndInvoice posts a shipment and an invoice with orderNumber; the fully invoiced order is gone.
def test_ship_and_invoice_posts_both_documents_and_removes_the_order(
    sim: BusinessCentralSimulator, api: Api
) -> None:
    order = api.order(reference="PO-POST")
    item = sim.item_id("SKU-00001")
    before = api.json(api.call("GET", f"items({item})"))
    api.call("POST", f"salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice")
    assert api.call("GET", f"salesOrders({order['id']})").status_code == 404
    (shipment,) = api.json(api.call("GET", f"salesShipments?$filter=orderNumber eq '{order['number']}'"))[
        "value"
    ]
    (invoice,) = api.json(api.call("GET", f"salesInvoices?$filter=orderNumber eq '{order['number']}'"))[
        "value"
    ]
    assert shipment["externalDocumentNumber"] == "PO-POST"
    assert (invoice["orderId"], invoice["externalDocumentNumber"]) == (order["id"], "PO-POST")
    assert invoice["totalAmountIncludingTax"] == order["totalAmountIncludingTax"]
    after = api.json(api.call("GET", f"items({item})"))
    assert after["inventory"] == before["inventory"] - 2
    assert (
        after["lastModifiedDateTime"] == before["lastModifiedDateTime"]
    )  # a FlowField: the row is untouched
    entries = api.json(
        api.call(
            "GET", f"itemLedgerEntries?$filter=lastModifiedDateTime ge {invoice['lastModifiedDateTime']}"
        )
    )
    assert [(e["itemNumber"], e["quantity"]) for e in entries["value"]] == [("SKU-00001", Decimal(-2))]

    # Shipped first, invoiced later: the order lives on between the two postings.
    two = api.order(reference="PO-SPLIT")
    sim.ship(two["id"])
    shipped = api.json(api.call("GET", f"salesOrders({two['id']})?$expand=salesOrderLines"))
    assert shipped["fullyShipped"] is True
    assert shipped["salesOrderLines"][0]["shippedQuantity"] == 2
    sim.invoice(two["id"])
    assert api.call("GET", f"salesOrders({two['id']})").status_code == 404


# 11. A blocked customer cannot order; the credit limit never blocks.
def test_blocked_customers_cannot_order_and_the_credit_limit_never_blocks(
    sim: BusinessCentralSimulator, api: Api
) -> None:
    customer = sim.customer_id("CUST-001")
    sim.set_credit_limit(customer, Decimal("1.00"))
    order = api.order()  # far over the limit: BC's API neither warns nor blocks
    api.call("POST", f"salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice")
    assert api.json(api.call("GET", f"salesInvoices?$filter=orderNumber eq '{order['number']}'"))["value"]
    for blocked in ("Ship", "Invoice", "All"):
        sim.set_blocked(customer, blocked)
        refused = api.call(
            "POST", "salesOrders", {"customerId": customer, "externalDocumentNumber": f"PO-{blocked}"}
        )
        assert (refused.status_code, api.error(refused)) == (400, "Application_DialogException")
    sim.set_blocked(customer, " ")
    assert api.call("POST", "salesOrders", {"customerId": customer}).status_code == 201
    customer_record = api.json(api.call("GET", f"customers({customer})"))
    assert customer_record["blocked"] == " "


# 12. Invoices have dueDate, remainingAmount, status Open → Paid; credit memos have no remainingAmount.
def test_invoices_are_paid_down_and_credit_memos_have_no_remaining_amount(
    sim: BusinessCentralSimulator, api: Api
) -> None:
    order = api.order(lines=2)
    invoice_id = sim.ship_and_invoice(order["id"])
    invoice = api.json(api.call("GET", f"salesInvoices({invoice_id})"))
    assert (invoice["status"], invoice["remainingAmount"]) == ("Open", Decimal("4.94"))
    assert (
        invoice["dueDate"]
        == (datetime.fromisoformat(invoice["invoiceDate"]) + timedelta(days=30)).date().isoformat()
    )
    sim.pay(invoice_id, Decimal("1.94"))
    partly = api.json(api.call("GET", f"salesInvoices({invoice_id})"))
    assert (partly["status"], partly["remainingAmount"]) == ("Open", Decimal("3.00"))
    memo_id = sim.credit_memo(invoice_id, Decimal("3.00"))
    memo = api.json(api.call("GET", f"salesCreditMemos({memo_id})"))
    assert "remainingAmount" not in memo
    assert (memo["invoiceId"], memo["totalAmountIncludingTax"], memo["status"]) == (
        invoice_id,
        Decimal("3.00"),
        "Paid",
    )
    paid = api.json(api.call("GET", f"salesInvoices({invoice_id})"))
    assert (paid["status"], paid["remainingAmount"]) == ("Paid", Decimal(0))
    assert (
        api.call("PATCH", f"salesInvoices({invoice_id})", {"dueDate": "2030-01-01"}, If_Match="*").status_code
        == 405
    )


def test_a_credit_memo_of_no_invoice_shows_only_its_whole_refund(
    sim: BusinessCentralSimulator, api: Api
) -> None:
    customer = sim.customer_id("CUST-002")
    memo_id = sim.customer_credit_memo(customer, Decimal("250.00"))
    memo = api.json(api.call("GET", f"salesCreditMemos({memo_id})"))
    assert "remainingAmount" not in memo
    assert (memo["customerId"], memo["totalAmountIncludingTax"], memo["status"]) == (
        customer,
        Decimal("250.00"),
        "Open",
    )
    assert not any(key.startswith("_") for key in memo)

    sim.refund(memo_id, Decimal("100.00"))  # partly refunded: the API shows nothing of it
    assert api.json(api.call("GET", f"salesCreditMemos({memo_id})")) == memo
    with pytest.raises(ValueError, match="cannot refund"):
        sim.refund(memo_id, Decimal("150.01"))  # more than is open
    sim.refund(memo_id, Decimal("150.00"))
    closed = api.json(api.call("GET", f"salesCreditMemos({memo_id})"))
    assert closed["status"] == "Paid"
    assert closed["lastModifiedDateTime"] > memo["lastModifiedDateTime"]
    with pytest.raises(ValueError, match="cannot refund"):
        sim.refund(memo_id, Decimal("0.01"))


# 13. 429 after the rate or queue limits, optionally with Retry-After; injected 503/504.
def test_rate_limit_queue_limit_and_injected_faults() -> None:
    sim = BusinessCentralSimulator(rate_limit=3, rate_window=60, max_concurrent=1, max_queued=0).start()
    api = Api(sim)
    try:
        assert [api.call("GET", "customers").status_code for _ in range(3)] == [200] * 3
        limited = api.call("GET", "customers")
        assert (limited.status_code, api.error(limited)) == (429, "TooManyRequests")
        assert int(limited.headers["Retry-After"]) >= 1
    finally:
        api.http.close()
        sim.stop()

    sim = BusinessCentralSimulator(max_concurrent=1, max_queued=0).start()
    api = Api(sim)
    try:
        sim.fail_next(1, 429)
        no_hint = api.call("GET", "customers")
        assert (no_hint.status_code, "Retry-After" in no_hint.headers) == (429, False)
        sim.fail_next(1, 503, retry_after=2)
        busy = api.call("GET", "customers")
        assert (busy.status_code, busy.headers["Retry-After"], api.error(busy)) == (
            503,
            "2",
            "ServiceUnavailable",
        )
        sim.fail_next(1, 504)
        assert api.call("GET", "customers").status_code == 504
        # One request in flight (its slot held here), no queue places: the next request is 429.
        sim._acquire(sim.client_id)
        try:
            queued = api.call("GET", "customers")
        finally:
            sim._release(sim.client_id)
        assert (queued.status_code, api.error(queued)) == (429, "TooManyRequests")
        assert api.call("GET", "customers").status_code == 200
    finally:
        api.http.close()
        sim.stop()


def test_a_dropped_write_is_committed_without_an_answer(sim: BusinessCentralSimulator, api: Api) -> None:
    sim.drop_next_write()
    with pytest.raises(httpx.TransportError):
        api.call("POST", "customers", {"number": "DROP-1", "displayName": "Dropped"})
    (customer,) = api.json(api.call("GET", "customers?$filter=number eq 'DROP-1'"))["value"]
    assert customer["displayName"] == "Dropped"


# 14. $batch: per-item statuses; Isolation: snapshot rolls back; more than 100 operations refused.
def test_batch_answers_per_item_and_snapshot_isolation_rolls_back(
    sim: BusinessCentralSimulator, api: Api
) -> None:
    company = f"companies({api.company})"
    requests: list[dict[str, Any]] = [
        {"id": "1", "method": "GET", "url": f"{company}/customers?$filter=number eq 'CUST-001'"},
        {
            "id": "2",
            "method": "POST",
            "url": f"{company}/customers",
            "body": {"number": "B-1", "displayName": "B"},
        },
        {"id": "3", "method": "GET", "url": f"{company}/salesOrders(00000000-0000-0000-0000-000000000001)"},
    ]
    answer = api.call("POST", "/$batch", {"requests": requests})
    assert answer.status_code == 200
    responses = {r["id"]: r for r in api.json(answer)["responses"]}
    assert [responses[k]["status"] for k in ("1", "2", "3")] == [200, 201, 404]
    assert responses["1"]["body"]["value"][0]["number"] == "CUST-001"
    assert set(responses["3"]["body"]["error"]) == {"code", "message"}

    requests[1]["body"] = {"number": "B-2", "displayName": "Rolled back"}
    atomic = api.call("POST", "/$batch", {"requests": requests}, Isolation="snapshot")
    assert [r["status"] for r in api.json(atomic)["responses"]] == [200, 201, 404]
    assert api.json(api.call("GET", "customers?$filter=number eq 'B-2'"))["value"] == []
    assert len(api.json(api.call("GET", "customers?$filter=number eq 'B-1'"))["value"]) == 1

    too_many = api.call("POST", "/$batch", {"requests": [requests[0]] * 101})
    assert (too_many.status_code, api.error(too_many)) == (400, "BadRequest")


# 15. Webhooks: handshake, 3-day expiry and renewal, coalescing, collection above 1,000, retry vs delete.
class Subscriber:
    """A notification URL on loopback: answers the handshake (unless told not to) and records POSTs."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # what to answer the next notifications (then 202)
        self.answer_handshake = True
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "validationToken" in query:
                    token = query["validationToken"][0].encode() if subscriber.answer_handshake else b"no"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(token)))
                    self.end_headers()
                    self.wfile.write(token)
                    return
                subscriber.received.append(json.loads(body))
                status = subscriber.statuses.pop(0) if subscriber.statuses else 202
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    hook = Subscriber()
    try:
        yield hook
    finally:
        hook.close()


def _wait(condition: Any, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_subscription_needs_the_handshake_expires_in_three_days_and_renews_with_if_match(
    sim: BusinessCentralSimulator, api: Api, subscriber: Subscriber
) -> None:
    resource = f"/api/v2.0/companies({api.company})/customers"
    subscriber.answer_handshake = False
    refused = api.call("POST", "/subscriptions", {"notificationUrl": subscriber.url, "resource": resource})
    assert refused.status_code == 400
    assert api.json(api.call("GET", "/subscriptions"))["value"] == []

    subscriber.answer_handshake = True
    made = api.call(
        "POST",
        "/subscriptions",
        {"notificationUrl": subscriber.url, "resource": resource, "clientState": "s3cret"},
    )
    assert made.status_code == 201
    subscription = api.json(made)
    expires = datetime.fromisoformat(subscription["expirationDateTime"].replace("Z", "+00:00"))
    assert timedelta(days=2, hours=23) < expires - datetime.now(UTC) <= timedelta(days=3)
    path = f"/subscriptions('{subscription['subscriptionId']}')"
    missing = api.call("PATCH", path, {})
    assert (missing.status_code, api.error(missing)) == (400, "BadRequest_InvalidToken")
    handshakes = len(sim.webhooks.handshakes)
    renewed = api.call("PATCH", path, {}, If_Match=subscription["@odata.etag"])
    assert renewed.status_code == 200
    assert len(sim.webhooks.handshakes) == handshakes + 1  # the handshake is repeated
    assert api.json(renewed)["expirationDateTime"] >= subscription["expirationDateTime"]
    stale = api.call("PATCH", path, {}, If_Match=subscription["@odata.etag"])
    assert stale.status_code == 409
    unknown = api.call(
        "POST",
        "/subscriptions",
        {"notificationUrl": subscriber.url, "resource": f"/api/v2.0/companies({api.company})/salesShipments"},
    )
    assert unknown.status_code == 400
    assert api.call("DELETE", path).status_code == 204


def test_changes_are_coalesced_into_one_notification_with_the_documented_body(
    sim: BusinessCentralSimulator, api: Api, subscriber: Subscriber
) -> None:
    resource = f"/api/v2.0/companies({api.company})/customers"
    subscription = api.json(
        api.call(
            "POST",
            "/subscriptions",
            {"notificationUrl": subscriber.url, "resource": resource, "clientState": "s3cret"},
        )
    )
    first, second = sim.customer_id("CUST-001"), sim.customer_id("CUST-002")
    sim.set_credit_limit(first, Decimal(1))
    sim.set_credit_limit(second, Decimal(2))
    sim.set_credit_limit(first, Decimal(3))
    sim.adjust_inventory(sim.item_id("SKU-00001"), Decimal(1))  # not a subscribed resource
    _wait(lambda: subscriber.received)
    time.sleep(0.3)
    (notification,) = subscriber.received
    assert sorted(n["resource"] for n in notification["value"]) == sorted(
        [f"{resource}({first})", f"{resource}({second})"]
    )
    for item in notification["value"]:
        assert set(item) == {
            "subscriptionId",
            "clientState",
            "expirationDateTime",
            "resource",
            "changeType",
            "lastModifiedDateTime",
        }
        assert (item["subscriptionId"], item["clientState"], item["changeType"]) == (
            subscription["subscriptionId"],
            "s3cret",
            "updated",
        )

    # Over 1,000 changes in one window: one "collection" notification.
    sim.webhooks.delay = 60
    for n in range(1001):
        sim.edit("customers", first, phoneNumber=str(n))
    sim.flush_notifications()
    collection = subscriber.received[-1]["value"]
    assert [
        (c["changeType"], c["resource"].startswith(f"{resource}?$filter=lastModifiedDateTime gt "))
        for c in collection
    ] == [("collection", True)]


def test_a_failing_subscriber_is_retried_on_5xx_and_dropped_on_other_errors(
    sim: BusinessCentralSimulator, api: Api, subscriber: Subscriber
) -> None:
    sim.webhooks.retry_delay = 0.1
    resource = f"/api/v2.0/companies({api.company})/salesOrders"
    api.call("POST", "/subscriptions", {"notificationUrl": subscriber.url, "resource": resource})
    subscriber.statuses = [503, 429]
    order = api.order()
    _wait(lambda: len(subscriber.received) == 3)
    assert [d.status for d in sim.webhooks.deliveries] == [503, 429, 202]
    assert subscriber.received[-1]["value"][0]["resource"] == f"{resource}({order['id']})"

    subscriber.statuses = [410]
    api.order(reference="PO-GONE")
    _wait(lambda: len(subscriber.received) == 4)
    _wait(lambda: not sim.webhooks.subscriptions)
    api.order(reference="PO-AFTER")
    time.sleep(0.5)
    assert len(subscriber.received) == 4


# 16. The error body shape {"error": {"code", "message"}} for every 4xx/5xx (checked by Api.error above).
def test_errors_share_one_body_shape(sim: BusinessCentralSimulator, api: Api) -> None:
    sim.fail_next(1, 500)
    answers = [
        api.call("GET", "customers"),
        api.call("GET", "nowhere"),
        api.call("PATCH", "customers", {"x": 1}),
        api.call("POST", "customers", {"number": "CUST-001", "displayName": "Twice"}),
        api.call("POST", "customers", {"number": "LONG", "displayName": "x" * 101}),
    ]
    assert [a.status_code for a in answers] == [500, 404, 405, 400, 400]
    assert [api.error(a) for a in answers[3:]] == [
        "Internal_EntityWithSameKeyExists",
        "Application_StringExceededLength",
    ]
