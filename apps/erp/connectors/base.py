"""What every ERP connector offers the sync engine, and the plain records that cross the boundary."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Generic, Literal, Protocol, TypeVar


class ErpError(Exception):
    """Base of every failure talking to an ERP; ``message`` is what a person reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ErpTransientError(ErpError):
    """Worth retrying: timeouts, connection failures, 5xx, 503 lock contention, 429 rate limits."""


class ErpUnavailableError(ErpTransientError):
    """The ERP could not be reached at all (connection refused, no answer in time): an outage. Jobs that
    wait on one are tried again as soon as the ERP answers, not only when their backoff ends."""


class ErpBusinessError(ErpError):
    """The ERP refused the content (validation, credit limit, workflow): a person must act."""


@dataclass(frozen=True)
class Cursor:
    """A stream position by the ERP's clock: records changed at or after ``since`` (None: from the start);
    ``after`` is the connector's own position within one run of the pull ("": the first page), the
    ``Page.next`` of the page before."""

    since: datetime | None = None
    after: str = ""


@dataclass(frozen=True)
class AddressRecord:
    erp_id: str
    street: str
    city: str
    postal_code: str
    region: str
    country: str


@dataclass(frozen=True)
class CustomerRecord:
    erp_id: str
    code: str
    name: str
    addresses: list[AddressRecord]
    payment_term_id: str | None
    payment_term_name: str | None
    credit_limit: Decimal | None
    changed_at: datetime
    payment_term_days: int | None = None  # the term's longest delay in days (0: prepaid / on receipt)
    on_hold: bool = False  # the ERP's own people put the customer on credit hold
    hold_reason: str = ""


@dataclass(frozen=True)
class InvoiceLineRecord:
    """A line of a customer invoice, in the invoice's order: the product's ERP id and SKU when the line
    is for a product (empty for a freight or service line without one); ``amount`` before tax."""

    product_erp_id: str
    sku: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class InvoicePaymentRecord:
    """A payment of a customer invoice as the ERP booked it: its day, the amount it settled of the
    invoice (in the invoice's currency; negative for the refund of a credit note) and its reference."""

    paid_on: date
    amount: Decimal
    reference: str


@dataclass(frozen=True)
class InvoiceRecord:
    """A customer invoice as the ERP keeps it. Amounts are in ``currency``; ``amount_paid`` is what the
    customer has paid of ``total_amount`` (credit notes have a negative total)."""

    erp_id: str
    customer_erp_id: str
    number: str  # empty while the invoice is a draft
    invoice_date: date | None
    due_date: date | None  # the earliest maturity still open (the last one once paid); None for drafts
    currency: str
    total_amount: Decimal
    amount_paid: Decimal
    state: str  # draft | validated | posted | paid | cancelled
    sale_references: list[str]  # the references (customer PO numbers) of the sales it invoices
    changed_at: datetime
    lines: list[InvoiceLineRecord] | None = None  # None: not read (reconciliation); the pull reads them
    # None: not read (reconciliation, or an ERP without ``Capabilities.invoice_payments``)
    payments: list[InvoicePaymentRecord] | None = None


@dataclass(frozen=True)
class ProductRecord:
    erp_id: str
    sku: str
    name: str
    category_id: str | None
    category_name: str | None
    unit: str
    list_price: Decimal
    is_active: bool
    changed_at: datetime
    cost_price: Decimal | None = None  # None: the ERP has no cost for it (or the connector reads none)


@dataclass(frozen=True)
class StockRecord:
    product_erp_id: str
    quantity: Decimal
    as_of: datetime
    changed_at: datetime | None = None


RecordT = TypeVar("RecordT")


@dataclass(frozen=True)
class Page(Generic[RecordT]):
    """One page of a pull or a reconciliation read. ``next`` is the connector's opaque position after this
    page (the last id as text for id-ordered reads, a next link for an ERP that pages by links), passed
    back as ``Cursor.after`` (or ``after``) for the next page. The engine stores it, so it must still work
    after a restart and be at most 2,000 characters (``apps.erp.models.POSITION_MAX_LENGTH``)."""

    records: list[RecordT]
    next: str
    has_more: bool


@dataclass(frozen=True)
class Capabilities:
    """What an ERP can do through its API; the engine, the conformance suite and the pages follow it.

    ``price_lists``: price lists can be pushed (else the ERP has none: prices travel only as the frozen
    unit price of each order line, which every connector sends anyway). ``ship_to_records``: ship-to
    addresses are ERP records with ids (else one address per customer and the order carries its ship-to
    as text). ``order_confirm``: a push confirms (releases) the sale through the API (else it is created
    and left for the ERP's people, state quotation). ``cancel``: "cancel" keeps the sale, cancelled;
    "delete": the connector's cancel deletes the sale, so the ERP keeps none: the cancel's result (state
    cancelled) is the portal's record of it and the pull no longer reports it; a sale the ERP's people
    delete is found by reconciliation (deleted in the ERP), not by the pull. ``credit_limit_enforced``:
    the ERP refuses to confirm an order over the customer's credit limit (``OrderPushResult.credit_refused``).
    ``customer_holds``: the ERP has a credit hold the customer pull reads (``CustomerRecord.on_hold``).
    ``credit_memo_amount_paid``: credit notes come with what was refunded (else derived from their
    state). ``change_notifications``: the ERP can call the portal when records change (webhooks);
    ``changed_streams`` polling stays the fallback. ``product_cost``: the product pull reads each product's
    cost (``ProductRecord.cost_price``, None where the ERP has none), for the margin of a quoted line.
    ``quotes``: an offered quote can be kept as a sale in quotation state (``push_quotes``), which its
    order's push then confirms (else the ERP first hears of a quote when its order is pushed).
    ``invoice_documents``: a posted invoice's own document (the ERP's printout) can be fetched
    (``invoice_document``), for the customer to download. ``invoice_payments``: the invoice pull reads
    each invoice's payments (``InvoiceRecord.payments``), each with its own day, for statements (else a
    statement shows what is paid of an invoice as one line, dated when the invoice last changed)."""

    price_lists: bool = True
    ship_to_records: bool = True
    order_confirm: bool = True
    cancel: Literal["cancel", "delete"] = "cancel"
    credit_limit_enforced: bool = True
    customer_holds: bool = True
    credit_memo_amount_paid: bool = True
    change_notifications: bool = False
    product_cost: bool = True
    quotes: bool = True
    invoice_documents: bool = True
    invoice_payments: bool = True

    def limits(self) -> list[str]:
        """What this ERP cannot do, in words for the people setting it up (empty: nothing missing)."""
        said = []
        if not self.price_lists:
            said.append("no price lists: each order line carries the portal's unit price")
        if not self.ship_to_records:
            said.append("one address per customer: orders carry their ship-to as text")
        if not self.order_confirm:
            said.append("orders cannot be confirmed through the API: the ERP's people release them")
        if self.cancel == "delete":
            said.append("a cancelled order is deleted in the ERP")
        if not self.credit_limit_enforced:
            said.append("the ERP does not enforce credit limits: the portal's credit check is the only one")
        if not self.customer_holds:
            said.append("no credit hold in the ERP: holds are set in the portal")
        if not self.credit_memo_amount_paid:
            said.append("credit notes carry no refunded amount: it follows from their state")
        if not self.change_notifications:
            said.append("no change notifications: changes are found by polling")
        if not self.product_cost:
            said.append("no product cost: quotes show no margin")
        if not self.quotes:
            said.append("no quotations: the ERP sees a quote only once its order is pushed")
        if not self.invoice_documents:
            said.append("no invoice documents: customers download statements, not the ERP's invoices")
        if not self.invoice_payments:
            said.append("no invoice payments: statements show what is paid of an invoice as one line")
        return said


@dataclass(frozen=True)
class InvoiceDocument:
    """An invoice's document as the ERP renders it: its bytes, their media type and a file name."""

    content: bytes
    content_type: str
    filename: str


@dataclass(frozen=True)
class CustomerPush:
    """A customer to create in the ERP; ``code`` doubles as the ERP-side idempotency key."""

    code: str
    name: str
    addresses: list[AddressRecord] = field(default_factory=list)
    tax_identifier: str = ""


@dataclass(frozen=True)
class PushResult:
    code: str
    erp_id: str
    created: bool  # False: found by its key, created by an earlier attempt


@dataclass(frozen=True)
class ErpHealth:
    reachable: bool
    version: str
    detail: str


@dataclass(frozen=True)
class PriceListLine:
    """One rule of an ERP price list. ``product_erp_id`` None applies to every product.

    Exactly one of ``unit_price`` (a fixed price) and ``discount`` (a fraction off the list price,
    e.g. Decimal("0.10")) is set. Lines are evaluated in the order given; the first that matches the
    product, a quantity of at least ``min_quantity`` and the date (``start``..``end``, inclusive, None
    open) gives the price.
    """

    product_erp_id: str | None
    min_quantity: Decimal
    unit_price: Decimal | None = None
    discount: Decimal | None = None
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class PriceListPush:
    """A whole price list, replaced in the ERP; ``key`` names it there (idempotency key)."""

    key: str
    name: str
    lines: list[PriceListLine]
    customer_erp_ids: list[str]


@dataclass(frozen=True)
class PriceListResult:
    key: str
    erp_id: str
    created: bool


@dataclass(frozen=True)
class OrderLinePush:
    product_erp_id: str
    quantity: Decimal
    unit_price: Decimal  # frozen at submit: the ERP must invoice exactly this
    note: str = ""


@dataclass(frozen=True)
class OrderPush:
    """An approved purchase order, to become an ERP sale. ``reference`` (the customer's PO number) with
    ``customer_erp_id`` identifies it in the ERP: a push looks that pair up before creating."""

    reference: str
    customer_erp_id: str
    ship_to: AddressRecord  # erp_id empty: a portal-made address the ERP does not have yet
    lines: list[OrderLinePush]
    requested_date: date | None = None
    notes: str = ""
    accept_credit_warning: bool = False  # finance released a credit hold for this order on purpose
    # The reference of the ERP quotation this order was accepted from (``push_quotes``): when the ERP has
    # no sale of this order yet, the push takes that quotation over (the order's reference, lines and
    # addresses written on it) and confirms it, instead of making a second sale. Ignored without
    # ``Capabilities.quotes``.
    quotation_reference: str = ""


@dataclass(frozen=True)
class OrderPushResult:
    """What became of one pushed order. ``error`` non-empty: the ERP refused this order (credit limit,
    validation, workflow), the text is for a person, and the other orders of the batch went on. A refused
    create leaves ``erp_id``, ``number`` and ``state`` empty; a refused confirm leaves the sale in the ERP
    (usually ``state`` quotation) and a later push of the same order finds it and tries the confirm again.
    """

    reference: str
    customer_erp_id: str
    erp_id: str
    number: str
    state: str
    created: bool  # False: found by (customer, reference), created by an earlier attempt (or not at all)
    error: str = ""
    credit_refused: bool = False  # the ERP refused it for the customer's credit, not for its content


@dataclass(frozen=True)
class QuotePush:
    """An offered quote, to be an ERP sale in quotation state at the offered prices. ``reference`` (the
    quote number) with ``customer_erp_id`` identifies it, as an order's PO number does: a push looks the
    pair up before creating, and a later version replaces the lines of the same sale. It is cancelled
    like an order (``cancel_orders``) and confirmed by its order's push (``OrderPush.quotation_reference``).
    """

    reference: str
    customer_erp_id: str
    ship_to: AddressRecord
    lines: list[OrderLinePush]
    description: str = ""  # e.g. "Quote Q-000123 v2"
    notes: str = ""


@dataclass(frozen=True)
class QuotePushResult:
    """What became of one pushed quote: its ERP sale (``state`` quotation once pushed). ``error``
    non-empty: refused (an unknown product, a sale already confirmed), the text is for a person."""

    reference: str
    customer_erp_id: str
    erp_id: str
    number: str
    state: str
    created: bool  # False: found by (customer, reference) and its lines replaced
    error: str = ""


def quotes_refused(quotes: Sequence[QuotePush]) -> list[QuotePushResult]:
    """``push_quotes`` of an ERP without quotations (``Capabilities.quotes`` False): each one refused."""
    return [
        QuotePushResult(
            quote.reference,
            quote.customer_erp_id,
            "",
            "",
            "",
            created=False,
            error="This ERP keeps no quotations: the quote goes to it as an order once accepted.",
        )
        for quote in quotes
    ]


@dataclass(frozen=True)
class OrderCancel:
    """A portal order whose ERP sale (found by customer and reference) must not go on."""

    reference: str
    customer_erp_id: str


@dataclass(frozen=True)
class OrderCancelResult:
    reference: str
    customer_erp_id: str
    erp_id: str  # empty: the ERP has no such sale, nothing to cancel
    state: str  # the sale's state afterwards
    error: str = ""  # the ERP refused (e.g. the sale is confirmed already)


@dataclass(frozen=True)
class OrderStateRecord:
    """Where a sale stands in the ERP: state plus shipment and invoice progress."""

    erp_id: str
    reference: str
    customer_erp_id: str
    number: str
    state: str  # draft | quotation | confirmed | processing | done | cancelled
    shipment_state: str  # none | waiting | partially shipped | sent | exception
    invoice_state: str  # none | pending | awaiting payment | partially paid | paid | exception
    changed_at: datetime


@dataclass(frozen=True)
class ReconcileRecord:
    """One ERP record as a reconciliation reads it (a full keyed read, not a pull by change time).

    ``key`` is the ERP id the portal stores for it; ``fields`` are the compared values as text, normalised
    so that equal values compare equal by ``reconcile_text`` (amounts as plain decimals without trailing
    zeros, dates ISO, ids as text); ``active`` False: archived or deactivated in the ERP; ``reference`` is
    the portal's own key it carries (customer code, PO number), so two ERP records with one reference show
    as duplicated;
    ``record`` is the same record the entity's pull stream yields (None for portal-owned entities), so a
    re-pull fix applies it through the stream's appliers."""

    key: str
    fields: dict[str, str]
    active: bool = True
    reference: str = ""
    record: object | None = None


def reconcile_text(value: object) -> str:
    """A compared value as reconciliation text, the same on both sides of a comparison.

    Decimal: a plain decimal without trailing zeros, never in exponent form (``Decimal("25000.00")`` →
    ``"25000"``, ``Decimal("0.5000")`` → ``"0.5"``, ``Decimal("-0")`` → ``"0"``); None: ``""``; bool:
    ``"true"``/``"false"``; date and datetime: ``isoformat()``; anything else ``str()``. A float is
    read through its shortest text (``0.1`` → ``"0.1"``), as a Decimal."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        if value.is_zero():
            return "0"
        text = f"{value:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def customer_reconcile_record(record: CustomerRecord, *, active: bool) -> ReconcileRecord:
    """A customer as every connector's reconciliation read gives it: the compared fields of the portal's
    customers and their credit, the code as the portal's own reference."""
    return ReconcileRecord(
        key=record.erp_id,
        fields={
            "name": reconcile_text(record.name),
            "code": reconcile_text(record.code),
            "credit_limit": reconcile_text(record.credit_limit),
            "payment_term": reconcile_text(record.payment_term_id),
            "on_hold": reconcile_text(record.on_hold),
        },
        active=active,
        reference=record.code,
        record=record,
    )


def product_reconcile_record(record: ProductRecord) -> ReconcileRecord:
    """A product as every connector's reconciliation read gives it (the SKU as reference)."""
    return ReconcileRecord(
        key=record.erp_id,
        fields={
            "sku": reconcile_text(record.sku),
            "name": reconcile_text(record.name),
            "list_price": reconcile_text(record.list_price),
            "unit": reconcile_text(record.unit),
        },
        active=record.is_active,
        reference=record.sku,
        record=record,
    )


def stock_reconcile_record(record: StockRecord, *, active: bool) -> ReconcileRecord:
    """A product's stock level as every connector's reconciliation read gives it, keyed by the product."""
    return ReconcileRecord(
        key=record.product_erp_id,
        fields={"quantity": reconcile_text(record.quantity)},
        active=active,
        record=record,
    )


def order_reconcile_record(
    record: OrderStateRecord, *, lines: Iterable[tuple[str, Decimal, Decimal]], total: Decimal | None
) -> ReconcileRecord:
    """A sale as every connector's reconciliation read gives it: its states, its ``lines`` (product id,
    quantity, unit price; ``reconcile_order_lines``) and untaxed ``total``; the reference is the
    customer and PO number (``"<customer id>:<PO number>"``), the pair a portal order is found by."""
    return ReconcileRecord(
        key=record.erp_id,
        fields={
            "number": reconcile_text(record.number),
            "state": reconcile_text(record.state),
            "shipment_state": reconcile_text(record.shipment_state),
            "invoice_state": reconcile_text(record.invoice_state),
            "lines": reconcile_order_lines(lines),
            "total": reconcile_text(total),
        },
        reference=f"{record.customer_erp_id}:{record.reference}",
        record=record,
    )


def invoice_reconcile_record(record: InvoiceRecord) -> ReconcileRecord:
    """An invoice as every connector's reconciliation read gives it (its number as reference)."""
    return ReconcileRecord(
        key=record.erp_id,
        fields={
            "number": reconcile_text(record.number),
            "state": reconcile_text(record.state),
            "total_amount": reconcile_text(record.total_amount),
            "amount_paid": reconcile_text(record.amount_paid),
            "due_date": reconcile_text(record.due_date),
            "currency": reconcile_text(record.currency),
        },
        reference=record.number,
        record=record,
    )


# An ERP price list the portal pushed is named "<name> [<key>]"; the keys it pushes under
# (``apps.pricing.erp.price_list_key``) start with this.
PORTAL_KEY_PREFIX = "portal-"
_MARKED = re.compile(r"\[([^\[\]]+)\]\Z")


def price_list_marker(key: str) -> str:
    """The suffix that names a price list the portal pushed under ``key``: ``"<name> [<key>]"``."""
    return f"[{key}]"


def price_list_key(name: str) -> str | None:
    """The portal key of a price list named ``name``: its marker's key when that is a portal key."""
    marked = _MARKED.search(name)
    return marked.group(1) if marked and marked.group(1).startswith(PORTAL_KEY_PREFIX) else None


# Canonical line texts longer than this are compared by their digest ("sha256:<hexdigest>").
RECONCILE_LINES_MAX = 500


def _lines_text(lines: list[str]) -> str:
    text = ";".join(lines)
    if len(text) <= RECONCILE_LINES_MAX:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _id_order(erp_id: str) -> tuple[int, str]:
    """Numeric ids in numeric order (text ids after shorter ones, then by text)."""
    return (len(erp_id), erp_id)


def reconcile_order_lines(lines: Iterable[tuple[str, Decimal, Decimal]]) -> str:
    """An order's lines (product id, quantity, unit price) as one compared text, whatever their order.

    Canonical text: ``"<product id>:<quantity>:<unit price>"`` per line (numbers by ``reconcile_text``),
    sorted by product id (numerically), then quantity and price text, joined by ``";"``; ``""`` without
    lines. Longer than ``RECONCILE_LINES_MAX`` characters: ``"sha256:"`` + the sha256 hexdigest of that
    text (UTF-8), so a long order still compares in a short field."""
    rows = sorted(
        (str(product), reconcile_text(quantity), reconcile_text(price)) for product, quantity, price in lines
    )
    rows.sort(key=lambda row: _id_order(row[0]))  # stable: quantity and price order kept within a product
    return _lines_text([":".join(row) for row in rows])


def reconcile_price_list_lines(lines: Sequence[PriceListLine]) -> str:
    """A price list's lines, in their order (the first matching line wins), as one compared text.

    Canonical text: per line ``"<product id>:<min quantity>:<unit price>:<discount>:<start>:<end>"``
    (``reconcile_text`` of each; a line for every product has an empty product id, an unset price,
    discount or date is empty), joined by ``";"`` in the list's order; ``""`` without lines. Longer than
    ``RECONCILE_LINES_MAX`` characters: ``"sha256:"`` + the sha256 hexdigest of that text (UTF-8)."""
    return _lines_text(
        [
            ":".join(
                reconcile_text(value)
                for value in (
                    line.product_erp_id,
                    line.min_quantity,
                    line.unit_price,
                    line.discount,
                    line.start,
                    line.end,
                )
            )
            for line in lines
        ]
    )


RECONCILE_ENTITIES = ("customers", "products", "stock", "price_lists", "orders", "invoices")


class Connector(Protocol):
    capabilities: Capabilities

    def health(self) -> ErpHealth: ...

    def pull_customers(self, cursor: Cursor, limit: int) -> Page[CustomerRecord]: ...

    def pull_products(self, cursor: Cursor, limit: int) -> Page[ProductRecord]: ...

    def pull_stock(self, cursor: Cursor, limit: int) -> Page[StockRecord]: ...

    # Change detection (freshness): which of these pull streams have a record created or written strictly
    # after the given time (None: any record at all), by the same rules as the stream's pull. One cheap
    # question per stream; a stream the connector does not know is left out (the scheduled pull covers it).
    def changed_streams(self, since: Mapping[str, datetime | None]) -> set[str]: ...

    def push_customers(
        self, customers: Sequence[CustomerPush], on_created: Callable[[PushResult], None] | None = None
    ) -> list[PushResult]: ...

    def push_price_lists(self, price_lists: Sequence[PriceListPush]) -> list[PriceListResult]: ...

    def push_orders(self, orders: Sequence[OrderPush]) -> list[OrderPushResult]: ...

    def pull_orders(self, cursor: Cursor, limit: int) -> Page[OrderStateRecord]: ...

    def cancel_orders(self, orders: Sequence[OrderCancel]) -> list[OrderCancelResult]: ...

    # ``Capabilities.quotes``: offered quotes as sales in quotation state (else every result is an error;
    # the engine sends none).
    def push_quotes(self, quotes: Sequence[QuotePush]) -> list[QuotePushResult]: ...

    def pull_invoices(self, cursor: Cursor, limit: int) -> Page[InvoiceRecord]: ...

    # ``Capabilities.invoice_documents``: the document of the invoice ``erp_id`` (``InvoiceRecord.erp_id``);
    # ``ErpBusinessError`` when the ERP has no such invoice or none to give (the capability False: always).
    def invoice_document(self, erp_id: str) -> InvoiceDocument: ...

    # Reconciliation reads: every record of the entity in an order the connector keeps stable, page by
    # page from ``after`` (a ``Page.next``; "": the start), exclusive.
    def reconcile_customers(self, after: str, limit: int) -> Page[ReconcileRecord]: ...

    def reconcile_products(self, after: str, limit: int) -> Page[ReconcileRecord]: ...

    def reconcile_stock(self, after: str, limit: int) -> Page[ReconcileRecord]: ...

    def reconcile_price_lists(self, after: str, limit: int) -> Page[ReconcileRecord]: ...

    def reconcile_orders(self, after: str, limit: int) -> Page[ReconcileRecord]: ...

    def reconcile_invoices(self, after: str, limit: int) -> Page[ReconcileRecord]: ...

    # One record of a ``RECONCILE_ENTITIES`` entity by its key, as its reconciliation read gives it (None:
    # the ERP has no such record): a drift's re-pull.
    def reconcile_one(self, entity: str, key: str) -> ReconcileRecord | None: ...

    def close(self) -> None: ...
