"""A Business Central API v2.0 simulator: a stdlib HTTP server on a free loopback port, for tests.

It reproduces the fact sheet's "Simulator must reproduce" checklist (/work/shared/erp-wire/
business-central.md §8), each behaviour with a comment citing its documentation (``learn:`` abbreviates
https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/). Besides the API it has Python
methods for what BC's own users do (release, ship, invoice, pay, block, edit) and fault injection.
"""

from __future__ import annotations

import collections
import contextlib
import random
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tools.erp_sim.business_central import odata
from tools.erp_sim.business_central.odata import ODataError
from tools.erp_sim.business_central.state import (
    ENTITY_SETS,
    LINE_SETS,
    READ_ONLY_SETS,
    Company,
    etag,
)
from tools.erp_sim.business_central.webhooks import WEBHOOK_SETS, Webhooks

TENANT_ID = "7e4d2b1a-3c5f-4a6b-9d8e-0f1a2b3c4d5e"
CLIENT_ID = "5b1c0d9e-8f7a-4b6c-a5d4-e3f2a1b0c9d8"
CLIENT_SECRET = "simulated-client-secret"  # noqa: S105 - a test double's fixed credential
SCOPE = "https://api.businesscentral.dynamics.com/.default"
COMPANY_NAME = "CRONUS USA, Inc."
MAX_PAGE = 20_000  # learn: administration/operational-limits-online — max page size 20,000 (fixed)
MAX_BATCH = 100  # learn: administration/operational-limits-online — max 100 operations per $batch
API_PATH = re.compile(r"^/v2\.0/(?:([^/]+)/)?([^/]+)/api/v2\.0(?:/(.*))?$")
TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
SEGMENT = re.compile(r"^([A-Za-z$][A-Za-z0-9.]*)(?:\((.*)\))?$")
WRITES = {"POST", "PATCH", "PUT", "DELETE"}


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON-able, or bytes/str for plain answers
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    status: int
    retry_after: int | None = None


# Documents with a PDF (pdfDocument navigation) and the parentType BC gives them.
PDF_SETS = {"salesInvoices": "Sales Invoice", "salesCreditMemos": "Sales Credit Memo"}


def tiny_pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing ``lines`` (Helvetica), as BC's report would print the document."""
    text = " ".join(
        f"({line.replace(chr(92), '').replace('(', '[').replace(')', ']')}) Tj 0 -16 Td" for line in lines
    )
    stream = f"BT /F1 12 Tf 72 760 Td {text} ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


class _Dropped(Exception):
    """The write was committed; the connection is closed without an answer."""


class BusinessCentralSimulator:
    def __init__(
        self,
        *,
        environment: str = "production",
        token_lifetime: int | None = None,
        notification_delay: float = 30.0,
        rate_limit: int = 6000,
        rate_window: float = 300.0,
        max_concurrent: int = 5,
        max_queued: int = 95,
        queue_timeout: float = 480.0,
    ) -> None:
        self.environment = environment
        self.tenant_id = TENANT_ID
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        # learn (entra): access tokens live 60-90 minutes at random; expires_in says how long.
        self.token_lifetime = token_lifetime
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self.max_concurrent, self.max_queued, self.queue_timeout = max_concurrent, max_queued, queue_timeout
        self.lock = threading.RLock()
        self._last_stamp = datetime(2026, 1, 1, tzinfo=UTC)
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (client id, expires at, monotonic)
        self.token_requests = 0
        self.requests: list[tuple[str, str]] = []  # (method, path and query) of every API request
        self.faults: collections.deque[Fault] = collections.deque()
        self.drop_writes = 0
        self.before_writes: collections.deque[Callable[[], None]] = collections.deque()
        self.rejected_tokens = 0  # 401 answers given
        self._calls: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._in_flight: dict[str, int] = collections.defaultdict(int)
        self._waiting: dict[str, int] = collections.defaultdict(int)
        self._slots = threading.Condition()
        self.webhooks = Webhooks(self._now, delay=notification_delay)
        self.companies: dict[str, Company] = {}
        main = self.add_company(COMPANY_NAME)
        main.seed()
        self.add_company("My Company")  # a second, empty company: the connector must pick by id or name
        self.company = main
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._local = threading.local()  # the URL of the collection a thread is answering (for nextLink)

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> BusinessCentralSimulator:
        simulator = self

        class Handler(_Handler):
            app = simulator

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="bc-sim", daemon=True)
        self._thread.start()
        self.webhooks.start()
        return self

    def stop(self) -> None:
        self.webhooks.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("start() the simulator first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """learn: api-reference/v2.0/endpoints-apis-for-dynamics — …/v2.0/{environment}/api/v2.0."""
        return f"{self.url}/v2.0/{self.environment}/api/v2.0"

    @property
    def token_url(self) -> str:
        """The token endpoint (learn: administration/automation-apis-using-s2s-authentication)."""
        return f"{self.url}/{self.tenant_id}/oauth2/v2.0/token"

    def add_company(self, name: str) -> Company:
        company = Company(name, self._now_stamp, self._changed)
        self.companies[company.id] = company
        return company

    # -- clock --------------------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return datetime.now(UTC)

    def _now_stamp(self) -> datetime:
        """lastModifiedDateTime of a write: milliseconds (as BC sends them), strictly increasing."""
        with self.lock:
            now = self._now()
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            if now <= self._last_stamp:
                now = self._last_stamp + timedelta(milliseconds=1)
            self._last_stamp = now
            return now

    def _changed(self, company: Company, entity_set: str, record_id: str, change_type: str) -> None:
        if entity_set in WEBHOOK_SETS:
            self.webhooks.changed(
                f"/api/v2.0/companies({company.id})/{entity_set}", record_id, change_type, self._now()
            )

    # -- fault injection ------------------------------------------------------------------------------------
    def fail_next(self, count: int, status: int, retry_after: int | None = None) -> None:
        """The next ``count`` API requests answer ``status`` (429, 500, 503, 504…) without doing anything."""
        with self.lock:
            self.faults.extend(Fault(status, retry_after) for _ in range(count))

    def drop_next_write(self, count: int = 1) -> None:
        """The next ``count`` writes are committed, then the connection closes without an answer."""
        with self.lock:
            self.drop_writes += count

    def on_next_write(self, action: Callable[[], None]) -> None:
        """Run ``action`` (e.g. a person's edit) just before the next write is handled: its ETag is then
        stale, as when a BC user saves the record between the client's read and its write."""
        with self.lock:
            self.before_writes.append(action)

    def expire_tokens(self) -> None:
        """Every issued token expires now (401 on its next use)."""
        with self.lock:
            self.tokens = {token: (client, 0.0) for token, (client, _) in self.tokens.items()}

    def flush_notifications(self) -> int:
        """Deliver the webhook notifications waiting for their coalescing window now."""
        return self.webhooks.deliver_due(force=True)

    def api_requests(self, method: str | None = None, contains: str = "") -> list[tuple[str, str]]:
        with self.lock:
            return [r for r in self.requests if (method is None or r[0] == method) and contains in r[1]]

    # -- what BC's own users do --------------------------------------------------------------------------
    def _order(self, order_id: str) -> dict[str, Any]:
        return self.company.get("salesOrders", order_id)

    def customer_id(self, number: str) -> str:
        with self.lock:
            customer = self.company.by_field("customers", "number", number)
            if customer is None:
                raise KeyError(number)
            return str(customer["id"])

    def item_id(self, number: str) -> str:
        with self.lock:
            item = self.company.by_field("items", "number", number)
            if item is None:
                raise KeyError(number)
            return str(item["id"])

    def record(self, entity_set: str, record_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.company.get(entity_set, record_id))

    def records(self, entity_set: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.company.tables[entity_set].values()]

    def release(self, order_id: str) -> None:
        """A person releases the order: API status "Open" (fact sheet §2 status mapping)."""
        with self.lock:
            order = self._order(order_id)
            order["status"] = "Open"
            self.company.touch("salesOrders", order)

    def reopen(self, order_id: str) -> None:
        with self.lock:
            order = self._order(order_id)
            order["status"] = "Draft"
            self.company.touch("salesOrders", order)

    def ship(self, order_id: str) -> str:
        """Post the order's shipment (Post → Ship): the salesShipment's id."""
        with self.lock:
            shipment, _ = self.company.post(self._order(order_id), ship=True, invoice=False)
            if shipment is None:
                raise ValueError("nothing was posted")
            return shipment

    def invoice(self, order_id: str) -> str:
        """Post the invoice of what is shipped (Post → Invoice): the salesInvoice's id."""
        with self.lock:
            _, invoice = self.company.post(self._order(order_id), ship=False, invoice=True)
            if invoice is None:
                raise ValueError("nothing was posted")
            return invoice

    def ship_and_invoice(self, order_id: str) -> str:
        with self.lock:
            _, invoice = self.company.post(self._order(order_id), ship=True, invoice=True)
            if invoice is None:
                raise ValueError("nothing was posted")
            return invoice

    def pay(self, invoice_id: str, amount: Decimal) -> None:
        with self.lock:
            self.company.pay(self.company.get("salesInvoices", invoice_id), amount)

    def credit_memo(self, invoice_id: str, amount: Decimal) -> str:
        with self.lock:
            return str(self.company.credit_memo(self.company.get("salesInvoices", invoice_id), amount)["id"])

    def customer_credit_memo(self, customer_id: str, amount: Decimal) -> str:
        """Accounting posts a credit memo of ``amount`` for the customer, applied to no invoice: its id."""
        with self.lock:
            return str(
                self.company.customer_credit_memo(self.company.get("customers", customer_id), amount)["id"]
            )

    def refund(self, memo_id: str, amount: Decimal) -> None:
        """The customer is refunded ``amount`` of an open credit memo (status Paid once all of it is)."""
        with self.lock:
            self.company.refund(self.company.get("salesCreditMemos", memo_id), amount)

    def edit(self, entity_set: str, record_id: str, *, at: datetime | None = None, **fields: Any) -> None:
        """A person edits the record (one transaction). ``at``: stamped then instead of now."""
        with self.lock:
            record = self.company.get(entity_set, record_id)
            record.update(fields)
            self.company.touch(entity_set, record, at=at)

    def set_credit_limit(self, customer_id: str, amount: Decimal) -> None:
        self.edit("customers", customer_id, creditLimit=amount)

    def set_blocked(self, customer_id: str, blocked: str) -> None:
        self.edit("customers", customer_id, blocked=blocked)

    def adjust_inventory(self, item_id: str, quantity: Decimal) -> None:
        """An item journal line posted: a ledger entry; the item row itself is not modified."""
        with self.lock:
            self.company.post_ledger(self.company.get("items", item_id), quantity, "Positive Adjmt.")

    def new_item(self, number: str, unit_price: Decimal = Decimal("12.5")) -> str:
        with self.lock:
            item = self.company.insert(
                "items",
                self.company.item_defaults(
                    {"number": number, "displayName": f"Item {number}", "unitPrice": unit_price}
                ),
            )
            return str(item["id"])

    def delete_item(self, item_id: str) -> None:
        with self.lock:
            item = self.company.get("items", item_id)
            if any(
                e["itemNumber"] == item["number"] for e in self.company.tables["itemLedgerEntries"].values()
            ):
                # Item.OnDelete refuses an item with ledger entries.
                raise ValueError(f"item {item['number']} has ledger entries")
            self.company.delete("items", item_id)

    def copy_order(self, order_id: str) -> str:
        """Copy Document: a new order with the same customer, external document no. and lines."""
        with self.lock:
            source = self._order(order_id)
            body = {
                "customerId": source["customerId"],
                "externalDocumentNumber": source["externalDocumentNumber"],
                "salesOrderLines": [
                    {"itemId": line["itemId"], "quantity": line["quantity"], "unitPrice": line["unitPrice"]}
                    for line in source["_lines"]
                ],
            }
            return str(self.company.create_order(body)["id"])

    # -- HTTP entry -----------------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        parsed = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(parsed.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        correlation = str(uuid.uuid4())
        self._local.path = f"{self.url}{parsed.path}"
        try:
            token_match = TOKEN_PATH.match(path)
            if token_match:
                return self._token(method, token_match.group(1), raw)
            api_match = API_PATH.match(path)
            if not api_match or api_match.group(2) != self.environment:
                raise ODataError(404, "BadRequest_ResourceNotFound", f"No resource at '{path}'.")
            client = self._authenticate(headers)
            reads_only = path.endswith("/$batch") and all(
                str(item.get("method", "GET")).upper() == "GET"
                for item in (odata.loads(raw) or {}).get("requests", [])
            )
            write = method in WRITES and not reads_only
            with self.lock:
                self.requests.append((method, target))
                hook = self.before_writes.popleft() if write and self.before_writes else None
            if hook is not None:
                hook()  # what a BC user does just before this write arrives
            with self.lock:
                fault = self.faults.popleft() if self.faults else None
            if fault is not None:
                return self._fault(fault)
            self._rate(client)
            self._acquire(client)
            try:
                answer = self._api(method, api_match.group(3) or "", query, headers, raw, client)
            finally:
                self._release(client)
            if write:
                with self.lock:
                    if self.drop_writes:
                        self.drop_writes -= 1
                        raise _Dropped
            return answer
        except ODataError as error:
            return Answer(error.status, error.body(correlation), error.headers)

    def _fault(self, fault: Fault) -> Answer:
        codes = {
            429: "TooManyRequests",
            500: "Internal_ServerError",
            503: "ServiceUnavailable",
            504: "GatewayTimeout",
        }
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        error = ODataError(fault.status, codes.get(fault.status, "Unknown"), "Injected fault.", headers)
        return Answer(fault.status, error.body(str(uuid.uuid4())), headers)

    # -- authentication ------------------------------------------------------------------------------------
    def _token(self, method: str, tenant: str, raw: bytes) -> Answer:
        """Entra client-credentials grant (learn: administration/automation-apis-using-s2s-authentication;
        https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow): form fields
        grant_type, client_id, client_secret, scope; no refresh token; ``expires_in`` in seconds."""
        if method != "POST":
            raise ODataError(405, "BadRequest_MethodNotAllowed", "The token endpoint takes POST.")
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        with self.lock:
            self.token_requests += 1
        if tenant != self.tenant_id:
            return Answer(
                400, {"error": "invalid_request", "error_description": f"Tenant '{tenant}' not found."}
            )
        if form.get("grant_type") != "client_credentials":
            return Answer(
                400, {"error": "unsupported_grant_type", "error_description": "Use client_credentials."}
            )
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Answer(
                401, {"error": "invalid_client", "error_description": "Invalid client secret provided."}
            )
        if form.get("scope") != SCOPE:
            return Answer(400, {"error": "invalid_scope", "error_description": f"Scope must be {SCOPE}."})
        lifetime = self.token_lifetime or random.randint(3600, 5400)  # noqa: S311 - not a secret
        token = uuid.uuid4().hex + uuid.uuid4().hex
        with self.lock:
            self.tokens[token] = (form["client_id"], time.monotonic() + lifetime)
        return Answer(
            200,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            },
        )

    def _authenticate(self, headers: dict[str, str]) -> str:
        """401 on a missing, unknown or expired bearer token (learn: webservices/dynamics-error-codes,
        Authentication_InvalidCredentials)."""
        value = headers.get("authorization", "")
        token = value[7:] if value.lower().startswith("bearer ") else ""
        with self.lock:
            known = self.tokens.get(token)
        if known is None or known[1] <= time.monotonic():
            with self.lock:
                self.rejected_tokens += 1
            raise ODataError(
                401,
                "Authentication_InvalidCredentials",
                "The server has rejected the client credentials.",
                {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
            )
        return known[0]

    # -- limits ---------------------------------------------------------------------------------------------
    def _rate(self, client: str) -> None:
        """learn: administration/operational-limits-online — 6,000 requests per 5-minute sliding window per
        user (a service principal counts as one); beyond, 429 (learn: api-reference/v2.0/
        dynamics-rate-limits).
        Whether BC sends Retry-After with 429 is unconfirmed (fact sheet §6): sent here, the client must not
        need it."""
        now = time.monotonic()
        with self.lock:
            calls = self._calls[client]
            while calls and calls[0] <= now - self.rate_window:
                calls.popleft()
            if len(calls) >= self.rate_limit:
                wait = max(1, int(calls[0] + self.rate_window - now) + 1)
                raise ODataError(
                    429, "TooManyRequests", "Request limits exceeded.", {"Retry-After": str(wait)}
                )
            calls.append(now)

    def _acquire(self, client: str) -> None:
        """learn: administration/operational-limits-online — 5 concurrent requests per user; more wait in a
        queue (95 places) and time out with 503 after 8 minutes; a full queue answers 429."""
        with self._slots:
            if self._in_flight[client] < self.max_concurrent:
                self._in_flight[client] += 1
                return
            if self._waiting[client] >= self.max_queued:
                raise ODataError(429, "TooManyRequests", "Too many requests are queued.")
            self._waiting[client] += 1
            try:
                deadline = time.monotonic() + self.queue_timeout
                while self._in_flight[client] >= self.max_concurrent:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ODataError(
                            503, "ServiceUnavailable", "The request waited too long in the queue."
                        )
                    self._slots.wait(left)
                self._in_flight[client] += 1
            finally:
                self._waiting[client] -= 1

    def _release(self, client: str) -> None:
        with self._slots:
            self._in_flight[client] -= 1
            self._slots.notify()

    # -- the API --------------------------------------------------------------------------------------------
    def _api(
        self, method: str, rest: str, query: dict[str, str], headers: dict[str, str], raw: bytes, client: str
    ) -> Answer:
        body = odata.loads(raw) if raw.strip() else {}
        segments = [s for s in rest.split("/") if s]
        if segments == ["$batch"]:
            if method != "POST":
                raise ODataError(405, "BadRequest_MethodNotAllowed", "$batch takes POST.")
            return self._batch(body, headers, client)
        if segments and segments[0].startswith("subscriptions"):
            return self._subscriptions(method, segments, headers, body)
        parsed = []
        for segment in segments:
            match = SEGMENT.match(segment)
            if not match:
                raise ODataError(404, "BadRequest_ResourceNotFound", f"Unknown segment '{segment}'.")
            parsed.append((match.group(1), match.group(2)))
        if not parsed or parsed[0][0] != "companies":
            raise ODataError(404, "BadRequest_ResourceNotFound", f"Unknown resource '{rest}'.")
        with self.lock:
            if parsed[0][1] is None:
                if len(parsed) > 1 or method != "GET":
                    raise ODataError(404, "BadRequest_ResourceNotFound", f"Unknown resource '{rest}'.")
                return self._listing(
                    [c.info() for c in self.companies.values()], query, headers, "companies", "name"
                )
            company = self.companies.get(parsed[0][1].lower())
            if company is None:
                raise ODataError(404, "BadRequest_NotFound", f"The company '{parsed[0][1]}' does not exist.")
            if len(parsed) == 1:
                return Answer(200, company.info())
            return self._company(company, method, parsed[1:], query, headers, body)

    def _company(
        self,
        company: Company,
        method: str,
        parsed: list[tuple[str, str | None]],
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
    ) -> Answer:
        entity_set, key = parsed[0]
        if entity_set not in ENTITY_SETS:
            # Fact sheet §8.1: unknown segments are 404 BadRequest_ResourceNotFound.
            raise ODataError(404, "BadRequest_ResourceNotFound", f"Resource '{entity_set}' not found.")
        if key is None:
            if len(parsed) > 1:
                raise ODataError(404, "BadRequest_ResourceNotFound", "A key is needed before a navigation.")
            if method == "GET":
                records = [
                    self._view(company, entity_set, r, query) for r in company.tables[entity_set].values()
                ]
                return self._listing(records, query, headers, entity_set, ENTITY_SETS[entity_set])
            if method == "POST":
                return Answer(
                    201, self._view(company, entity_set, self._create(company, entity_set, body), query)
                )
            raise ODataError(405, "BadRequest_MethodNotAllowed", f"{method} is not allowed on a collection.")
        record = company.get(entity_set, key.strip("'"))
        if len(parsed) == 1:
            if method == "GET":
                return Answer(200, self._view(company, entity_set, record, query))
            if entity_set in READ_ONLY_SETS:
                raise ODataError(405, "BadRequest_MethodNotAllowed", f"{entity_set} is read-only.")
            self._check_etag(record, headers)
            if method == "PATCH":
                company.update(entity_set, record, body)
                return Answer(200, self._view(company, entity_set, record, query))
            if method == "DELETE":
                if entity_set == "salesOrders":
                    company.delete_order(record)
                else:
                    company.delete(entity_set, record["id"])
                return Answer(204)
            raise ODataError(405, "BadRequest_MethodNotAllowed", f"{method} is not allowed.")
        navigation, line_key = parsed[1]
        if navigation == "Microsoft.NAV.shipAndInvoice" and entity_set == "salesOrders":
            # learn: api-reference/v2.0/resources/dynamics_salesorder — bound action shipAndInvoice, 204.
            if method != "POST":
                raise ODataError(405, "BadRequest_MethodNotAllowed", "Bound actions take POST.")
            company.post(record, ship=True, invoice=True)
            return Answer(204)
        if navigation == "pdfDocument" and entity_set in PDF_SETS:
            return self._pdf_document(company, entity_set, record, method, parsed[1:])
        if navigation.startswith("Microsoft.NAV."):
            # Fact sheet §3/§8.9: no release/reopen action on salesOrders in standard v2.0.
            raise ODataError(404, "BadRequest_ResourceNotFound", f"The action '{navigation}' does not exist.")
        if LINE_SETS.get(entity_set) != navigation or len(parsed) > 2:
            raise ODataError(404, "BadRequest_ResourceNotFound", f"Resource '{navigation}' not found.")
        lines = record["_lines"]
        if line_key is None:
            if method == "GET":
                return self._listing(
                    [self._line_view(line) for line in lines], query, headers, navigation, "sequence"
                )
            if method == "POST" and entity_set == "salesOrders":
                # learn: api/dynamics_salesOrderLine_create — POST …/salesOrders({id})/salesOrderLines → 201.
                return Answer(201, self._line_view(company.add_line(record, body)))
            raise ODataError(405, "BadRequest_MethodNotAllowed", f"{method} is not allowed on {navigation}.")
        line = next((line for line in lines if line["id"] == line_key.lower()), None)
        if line is None:
            raise ODataError(404, "BadRequest_NotFound", f"The line '{line_key}' does not exist.")
        if method == "GET":
            return Answer(200, self._line_view(line))
        if entity_set != "salesOrders":
            raise ODataError(405, "BadRequest_MethodNotAllowed", f"{navigation} is read-only.")
        self._check_etag(line, headers)
        if record["status"] == "Open":
            raise ODataError(
                400, "Application_FieldValidationException", "Status must be equal to 'Open' in Sales Header."
            )
        if method == "DELETE":
            if line["shippedQuantity"]:
                raise ODataError(400, "Application_DialogException", "A shipped line cannot be deleted.")
            lines.remove(line)
        elif method == "PATCH":
            company.check_writable("salesOrderLines", body)
            for name in ("quantity", "unitPrice", "discountPercent", "description"):
                if name in body:
                    line[name] = Decimal(str(body[name])) if name != "description" else body[name]
            company._line_amounts(line)
            line["_version"] = line.get("_version", 0) + 1
        else:
            raise ODataError(405, "BadRequest_MethodNotAllowed", f"{method} is not allowed.")
        company._totals(record)
        company.touch("salesOrders", record)
        return Answer(204) if method == "DELETE" else Answer(200, self._line_view(line))

    def _pdf_document(
        self,
        company: Company,
        entity_set: str,
        record: dict[str, Any],
        method: str,
        parsed: list[tuple[str, str | None]],
    ) -> Answer:
        """learn: api-reference/v2.0/resources/dynamics_pdfdocument — GET …/salesInvoices({id})/pdfDocument
        lists the document's PDF (its ``pdfDocumentContent@odata.mediaReadLink``); GET on that link is the
        PDF's bytes. Read-only."""
        if method != "GET":
            raise ODataError(405, "BadRequest_MethodNotAllowed", "pdfDocument is read-only.")
        if len(parsed) == 1 and parsed[0][1] is None:
            link = (
                f"{self.api_url}/companies({company.id})/{entity_set}({record['id']})"
                f"/pdfDocument({record['id']})/pdfDocumentContent"
            )
            document = {
                "id": record["id"],
                "parentId": record["id"],
                "parentType": PDF_SETS[entity_set],
                "pdfDocumentContent@odata.mediaReadLink": link,
            }
            return Answer(200, {"value": [document]})
        if len(parsed) != 2 or parsed[1] != ("pdfDocumentContent", None):
            raise ODataError(404, "BadRequest_ResourceNotFound", "Resource not found.")
        customer = company.tables["customers"].get(record.get("customerId"), {})
        lines = [
            f"{PDF_SETS[entity_set]} {record['number']}",
            f"Customer {record.get('customerNumber', '')} {customer.get('displayName', '')}",
            f"Total {record.get('totalAmountIncludingTax', '')}",
        ]
        return Answer(200, tiny_pdf(lines), {"Content-Type": "application/pdf"})

    def _create(self, company: Company, entity_set: str, body: dict[str, Any]) -> dict[str, Any]:
        if entity_set in READ_ONLY_SETS:
            raise ODataError(405, "BadRequest_MethodNotAllowed", f"{entity_set} is read-only.")
        if entity_set == "customers":
            return company.create_customer(body)
        if entity_set == "salesOrders":
            return company.create_order(body)
        company.check_writable(entity_set, body)
        company.check_lengths(body)
        if entity_set == "items":
            return company.insert("items", company.item_defaults(body))
        return company.insert(entity_set, body)

    @staticmethod
    def _check_etag(record: dict[str, Any], headers: dict[str, str]) -> None:
        """learn: webservices/dynamics-error-codes — no If-Match: 400 BadRequest_InvalidToken; a stale one:
        409 Request_EntityChanged (not 412; fact sheet §5); ``If-Match: *`` skips the check
        (learn: api/dynamics_customer_update)."""
        value = headers.get("if-match")
        if not value:
            raise ODataError(
                400, "BadRequest_InvalidToken", "Could not validate the client concurrency token."
            )
        if value != "*" and value != etag(record):
            raise ODataError(409, "Request_EntityChanged", "Another user has already changed the record.")

    def _view(
        self, company: Company, entity_set: str, record: dict[str, Any], query: dict[str, str]
    ) -> dict[str, Any]:
        view: dict[str, Any] = {"@odata.etag": etag(record)}
        view.update({k: v for k, v in record.items() if not k.startswith("_")})
        if entity_set == "customers":
            view["balanceDue"] = sum(
                (
                    invoice["remainingAmount"]
                    for invoice in company.tables["salesInvoices"].values()
                    if invoice["customerId"] == record["id"]
                ),
                Decimal(0),
            )
        expand = [e.strip() for e in query.get("$expand", "").split(",") if e.strip()]
        for name in expand:
            if name != LINE_SETS.get(entity_set):
                raise ODataError(400, "BadRequest", f"Could not find a navigation property named '{name}'.")
            view[name] = [self._line_view(line) for line in record["_lines"]]
        return view

    @staticmethod
    def _line_view(line: dict[str, Any]) -> dict[str, Any]:
        view: dict[str, Any] = {"@odata.etag": etag(line)}
        view.update({k: v for k, v in line.items() if not k.startswith("_")})
        return view

    def _listing(
        self,
        records: list[dict[str, Any]],
        query: dict[str, str],
        headers: dict[str, str],
        name: str,
        key: str,
    ) -> Answer:
        """Server-driven paging (learn: webservices/Server-Driven-Paging-in-OData-Web-Services): the page
        size comes from ``Prefer: odata.maxpagesize=N`` (at most 20,000, else 413: learn: administration/
        operational-limits-online); a page that is not the last carries ``@odata.nextLink``."""
        if "$filter" in query:
            clauses = odata.parse_filter(query["$filter"])
            records = [r for r in records if odata.matches(r, clauses)]
        records.sort(key=lambda r: (r.get(key) is None, r.get(key), r.get("id", "")))
        page_size = MAX_PAGE
        answer_headers: dict[str, str] = {}
        prefer = re.search(r"odata\.maxpagesize=(\d+)", headers.get("prefer", ""))
        if prefer:
            page_size = int(prefer.group(1))
            if page_size > MAX_PAGE:
                raise ODataError(413, "RequestEntityTooLarge", "odata.maxpagesize is above 20,000.")
            answer_headers["Preference-Applied"] = f"odata.maxpagesize={page_size}"
        if "$skiptoken" in query:
            after = query["$skiptoken"]
            records = (
                [r for r in records if str(r.get(key)) > after]
                if key != "entryNumber"
                else [r for r in records if int(r[key]) > int(after)]
            )
        if "$top" in query:
            records = records[: int(query["$top"])]
        page, more = records[:page_size], len(records) > page_size
        if "$select" in query:
            wanted = {"@odata.etag", *(s.strip() for s in query["$select"].split(","))}
            page = [{k: v for k, v in r.items() if k in wanted} for r in page]
        body: dict[str, Any] = {"@odata.context": f"{self._context()}#{name}", "value": page}
        if more:
            next_query = {k: v for k, v in query.items() if k != "$skiptoken"}
            next_query["$skiptoken"] = str(records[page_size - 1].get(key))
            body["@odata.nextLink"] = (
                f"{self._local.path}?{urllib.parse.urlencode(next_query, quote_via=urllib.parse.quote)}"
            )
        return Answer(200, body, answer_headers)

    def _context(self) -> str:
        return f"{self.api_url}/$metadata"

    # -- $batch ---------------------------------------------------------------------------------------------
    def _batch(self, body: dict[str, Any], headers: dict[str, str], client: str) -> Answer:
        """learn: webservices/use-odata-batch — JSON batch: {"requests": [{id, method, url, headers, body}]} →
        {"responses": [{id, status, headers, body}]}, 200 overall with each item's own status;
        ``Isolation: snapshot`` makes it one transaction (all or nothing); at most 100 operations."""
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list):
            raise ODataError(400, "BadRequest", "A batch needs a 'requests' array.")
        if len(requests) > MAX_BATCH:
            raise ODataError(400, "BadRequest", f"A batch holds at most {MAX_BATCH} operations.")
        atomic = headers.get("isolation", "").lower() == "snapshot"
        responses = []
        with self.lock:
            saved = {cid: company.snapshot() for cid, company in self.companies.items()} if atomic else {}
            failed = False
            for item in requests:
                url = str(item.get("url", ""))
                base = self.api_url
                if url.startswith(base):
                    url = url[len(base) :]
                url = url.lstrip("/")
                inner_headers = {k.lower(): v for k, v in (item.get("headers") or {}).items()}
                parsed = urllib.parse.urlsplit(url)
                query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
                raw = odata.dumps(item["body"]) if item.get("body") is not None else b""
                try:
                    self._local.path = f"{self.api_url}/{parsed.path}"
                    answer = self._api(
                        str(item.get("method", "GET")).upper(), parsed.path, query, inner_headers, raw, client
                    )
                except ODataError as error:
                    answer = Answer(error.status, error.body(str(uuid.uuid4())))
                failed = failed or answer.status >= 400
                responses.append(
                    {
                        "id": item.get("id"),
                        "status": answer.status,
                        "headers": answer.headers,
                        "body": answer.body,
                    }
                )
            if atomic and failed:
                for cid, company in self.companies.items():
                    company.restore(saved[cid])
        return Answer(200, {"responses": responses})

    # -- subscriptions -----------------------------------------------------------------------------------
    def _known_resource(self, resource: str) -> bool:
        match = re.fullmatch(r"/?api/v2\.0/companies\(([^)]+)\)/(\w+)", resource)
        return bool(match and match.group(1).lower() in self.companies and match.group(2) in WEBHOOK_SETS)

    def _subscriptions(self, method: str, segments: list[str], headers: dict[str, str], body: Any) -> Answer:
        match = SEGMENT.match(segments[0])
        if len(segments) > 1 or not match or match.group(1) != "subscriptions":
            raise ODataError(404, "BadRequest_ResourceNotFound", "Unknown resource.")
        key = (match.group(2) or "").strip("'")
        if not key:
            if method == "GET":
                return Answer(200, {"value": self.webhooks.listing()})
            if method == "POST":
                return Answer(201, self.webhooks.create(body, self._known_resource))
            raise ODataError(405, "BadRequest_MethodNotAllowed", f"{method} is not allowed.")
        if method == "GET":
            return Answer(200, self.webhooks.get(key).body())
        if method == "PATCH":
            return Answer(200, self.webhooks.renew(key, headers.get("if-match"), body))
        if method == "DELETE":
            self.webhooks.delete(key)
            return Answer(204)
        raise ODataError(405, "BadRequest_MethodNotAllowed", f"{method} is not allowed.")


class _Handler(BaseHTTPRequestHandler):
    app: BusinessCentralSimulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            answer = self.app.handle(self.command, self.path, headers, raw)
        except _Dropped:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        if isinstance(answer.body, bytes | str):
            payload = answer.body.encode() if isinstance(answer.body, str) else answer.body
            content_type = answer.headers.pop("Content-Type", "text/plain")
        elif answer.body is None:
            payload, content_type = b"", ""
        else:
            payload = odata.dumps(answer.body)
            content_type = "application/json; odata.metadata=minimal; charset=utf-8"
        self.send_response(answer.status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if isinstance(answer.body, dict) and "@odata.etag" in answer.body:
            self.send_header("ETag", answer.body["@odata.etag"])
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve
    do_PATCH = _serve
    do_PUT = _serve
    do_DELETE = _serve
