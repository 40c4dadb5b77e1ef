"""Sales orders in Business Central: the push (``externalDocumentNumber`` = the customer's PO number, looked
up before create, lines with the portal's frozen unit prices), the cancel (a DELETE with If-Match) and the
order-state pull, which follows an order through its shipments and invoices, and past its deletion.

BC deletes a sales order once it is completely shipped and invoiced (fact sheet §3); its invoices keep
``orderId`` and ``orderNumber`` (learn: api-reference/v2.0/resources/dynamics_salesinvoice), so the pull
reads orders changed since the cursor, then invoices changed since it, and reports from the invoices the
orders that are gone. ``status`` is read-only and standard v2.0 has no release action: a pushed order
stays "Draft" (state quotation) until BC's people release it ("Open": confirmed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from apps.erp.connectors.base import (
    Cursor,
    ErpTransientError,
    OrderCancel,
    OrderCancelResult,
    OrderPush,
    OrderPushResult,
    OrderStateRecord,
    Page,
    ReconcileRecord,
    order_reconcile_record,
)
from apps.erp.connectors.business_central.client import (
    BatchAnswer,
    BusinessCentralClient,
    BusinessCentralError,
    StaleRecord,
    batch_error,
    odata_text,
)
from apps.erp.connectors.business_central.common import (
    Phase,
    after_filter,
    guid,
    parse_time,
    phased_page,
    query,
    since_filter,
    time_literal,
)

ORDERS, INVOICES = "orders:", "invoices:"  # the two phases of an order-state run (Page.next prefixes)
DELETE_ATTEMPTS = 3  # a stale ETag on a cancel: read the order again and retry this often


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _invoice_state(invoices: list[dict[str, Any]]) -> str:
    if not invoices:
        return "none"
    total = sum((_dec(i["totalAmountIncludingTax"]) for i in invoices), Decimal(0))
    remaining = sum((_dec(i["remainingAmount"]) for i in invoices), Decimal(0))
    if remaining <= 0:
        return "paid"
    return "partially paid" if remaining < total else "awaiting payment"


def order_record(order: dict[str, Any] | None, invoices: list[dict[str, Any]]) -> OrderStateRecord:
    """Where the sale stands: from the order (with its lines) while BC has it, else from its invoices."""
    invoice_state = _invoice_state(invoices)
    stamps = [parse_time(i["lastModifiedDateTime"]) for i in invoices]
    if order is None:  # completely shipped and invoiced, then deleted by BC's posting
        first = invoices[0]
        return OrderStateRecord(
            erp_id=first["orderId"].lower(),
            reference=first.get("externalDocumentNumber") or "",
            customer_erp_id=first["customerId"].lower(),
            number=first.get("orderNumber") or "",
            state="done" if invoice_state == "paid" else "confirmed",
            shipment_state="sent",
            invoice_state=invoice_state,
            changed_at=max(stamps),
        )
    lines = [line for line in order.get("salesOrderLines") or [] if line.get("lineType") == "Item"]
    shipped = [_dec(line.get("shippedQuantity")) for line in lines]
    invoiced = any(_dec(line.get("invoicedQuantity")) > 0 for line in lines) or bool(invoices)
    if order.get("fullyShipped") and lines:
        shipment = "sent"
    elif any(quantity > 0 for quantity in shipped):
        shipment = "partially shipped"
    elif order.get("status") == "Open":
        shipment = "waiting"
    else:
        shipment = "none"
    posted = shipment in ("sent", "partially shipped") or invoiced
    # "Draft" (and "In Review", pending approval) is BC's open, unreleased order: a quotation to the
    # portal; "Open" is released (Graph Mgt - Sales Order Buffer; fact sheet §2). Posting releases.
    state = "confirmed" if order.get("status") == "Open" or posted else "quotation"
    return OrderStateRecord(
        erp_id=order["id"].lower(),
        reference=order.get("externalDocumentNumber") or "",
        customer_erp_id=order["customerId"].lower(),
        number=order["number"],
        state=state,
        shipment_state=shipment,
        invoice_state=invoice_state,
        changed_at=max([parse_time(order["lastModifiedDateTime"]), *stamps]),
    )


def _rows(answer: BatchAnswer, what: str) -> list[dict[str, Any]]:
    if not answer.ok():
        raise ErpTransientError(f"Business Central could not read {what}: {batch_error(answer)}")
    return list(answer.body["value"])


class BusinessCentralOrders:
    def __init__(self, client: BusinessCentralClient) -> None:
        self.client = client

    # -- reading -------------------------------------------------------------------------------------------
    def _invoices_of(self, numbers: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Every invoice of each order number (one ``$batch``), lines included."""
        answers = self.client.batch(
            [
                (
                    "GET",
                    query("salesInvoices", f"orderNumber eq {odata_text(n)}", expand="salesInvoiceLines"),
                    None,
                )
                for n in numbers
            ]
        )
        return {
            n: _rows(answer, f"the invoices of order {n}") for n, answer in zip(numbers, answers, strict=True)
        }

    def _records_of_orders(
        self, orders: list[dict[str, Any]]
    ) -> list[tuple[OrderStateRecord, dict[str, Any]]]:
        invoiced = [
            order["number"]
            for order in orders
            if any(_dec(line.get("invoicedQuantity")) > 0 for line in order.get("salesOrderLines") or [])
        ]
        invoices = self._invoices_of(invoiced) if invoiced else {}
        return [(order_record(order, invoices.get(order["number"], [])), order) for order in orders]

    def _records_from_invoices(
        self, invoices: list[dict[str, Any]], since: datetime | None
    ) -> list[tuple[OrderStateRecord, dict[str, Any]]]:
        """The orders of these invoices that the orders phase did not report: the deleted ones, and (in an
        incremental run) those not changed since ``since`` themselves."""
        by_order: dict[str, dict[str, Any]] = {}
        for invoice in invoices:
            order_id = guid(invoice.get("orderId"))
            if order_id and order_id not in by_order:
                by_order[order_id] = invoice
        if not by_order:
            return []
        ids = list(by_order)
        answers = self.client.batch(
            [("GET", f"salesOrders({order_id})?$expand=salesOrderLines", None) for order_id in ids]
        )
        threshold = parse_time(time_literal(since)) if since is not None else None
        living: list[dict[str, Any]] = []
        gone: list[str] = []
        for order_id, answer in zip(ids, answers, strict=True):
            if answer.status == 404:
                gone.append(order_id)
            elif not answer.ok():
                raise ErpTransientError(
                    f"Business Central could not read order {order_id}: {batch_error(answer)}"
                )
            elif threshold is not None and parse_time(answer.body["lastModifiedDateTime"]) < threshold:
                living.append(answer.body)  # its invoice changed, the order did not: not read yet this run
        numbers = [by_order[order_id]["orderNumber"] for order_id in gone]
        all_invoices = self._invoices_of(numbers) if numbers else {}
        results = self._records_of_orders(living)
        for number in numbers:
            rows = all_invoices[number]
            if rows:
                results.append((order_record(None, rows), rows[0]))
        return results

    def _run_page(
        self, since: datetime | None, after: str, limit: int
    ) -> tuple[list[tuple[OrderStateRecord, dict[str, Any]]], str, bool]:
        """One page of an order run: the orders phase, then the invoices phase (see the module doc)."""
        phases: list[Phase[tuple[OrderStateRecord, dict[str, Any]]]] = [
            Phase(
                ORDERS,
                query("salesOrders", since_filter(since), expand="salesOrderLines"),
                self._records_of_orders,
            ),
            Phase(
                INVOICES,
                query("salesInvoices", since_filter(since)),
                lambda rows: self._records_from_invoices(rows, since),
            ),
        ]
        return phased_page(self.client, phases, after, limit)

    def pull_orders(self, cursor: Cursor, limit: int) -> Page[OrderStateRecord]:
        records, position, more = self._run_page(cursor.since, cursor.after, limit)
        return Page([record for record, _ in records], position, more)

    def orders_changed(self, since: datetime | None) -> list[str]:
        return [
            query("salesOrders", after_filter(since), select="id", top=1),
            query("salesInvoices", after_filter(since), select="id", top=1),
        ]

    # -- reconciliation ------------------------------------------------------------------------------------
    @staticmethod
    def reconcile_record(record: OrderStateRecord, row: dict[str, Any]) -> ReconcileRecord:
        lines = row.get("salesOrderLines") if "salesOrderLines" in row else row.get("salesInvoiceLines")
        return order_reconcile_record(
            record,
            lines=(
                (str(line["itemId"]).lower(), _dec(line["quantity"]), _dec(line["unitPrice"]))
                for line in lines or []
                if line.get("lineType") == "Item"
            ),
            total=_dec(row.get("totalAmountExcludingTax")),
        )

    def reconcile_orders(self, after: str, limit: int) -> Page[ReconcileRecord]:
        """Every sale: the orders BC has, then those it deleted once invoiced (read from their invoices;
        an order invoiced in two parts shows its first invoice's lines)."""
        records, position, more = self._run_page(None, after, limit)
        return Page([self.reconcile_record(record, row) for record, row in records], position, more)

    def reconcile_one(self, key: str) -> ReconcileRecord | None:
        try:
            order = self.client.request("GET", f"salesOrders({key})?$expand=salesOrderLines")
        except BusinessCentralError as exc:
            if exc.status != 404:
                raise
        else:
            ((record, row),) = self._records_of_orders([order])
            return self.reconcile_record(record, row)
        invoices = self.client.request(
            "GET", query("salesInvoices", f"orderId eq {key}", expand="salesInvoiceLines")
        )["value"]
        if not invoices:
            return None
        everything = self._invoices_of([invoices[0]["orderNumber"]])[invoices[0]["orderNumber"]]
        return self.reconcile_record(order_record(None, everything), everything[0])

    # -- look-up, push, cancel -----------------------------------------------------------------------------
    def _look_up(
        self, pairs: Sequence[tuple[str, str]]
    ) -> list[tuple[dict[str, Any] | None, list[dict[str, Any]]]]:
        """Per (customer id, reference): the open order BC has (first by number) and, when there is none,
        the invoices of one it deleted after invoicing it. Two reads per pair, all in one ``$batch``."""
        requests = []
        for customer, reference in pairs:
            clauses = (f"externalDocumentNumber eq {odata_text(reference)}", f"customerId eq {customer}")
            requests.append(("GET", query("salesOrders", *clauses, expand="salesOrderLines"), None))
            requests.append(("GET", query("salesInvoices", *clauses), None))
        answers = self.client.batch(requests)
        found = []
        for n, (_, reference) in enumerate(pairs):
            orders = _rows(answers[2 * n], f"the orders named {reference}")
            invoices = _rows(answers[2 * n + 1], f"the invoices named {reference}")
            order = min(orders, key=lambda o: o["number"]) if orders else None
            deleted = [i for i in invoices if guid(i.get("orderId"))]
            found.append((order, [] if order else deleted))
        return found

    def _state(self, order: dict[str, Any] | None, invoices: list[dict[str, Any]]) -> OrderStateRecord:
        if order is not None and any(
            _dec(line.get("invoicedQuantity")) > 0 for line in order.get("salesOrderLines") or []
        ):
            invoices = self._invoices_of([order["number"]])[order["number"]]
        elif order is None:
            invoices = self._invoices_of([invoices[0]["orderNumber"]])[invoices[0]["orderNumber"]]
        return order_record(order, invoices)

    def push_orders(self, orders: Sequence[OrderPush]) -> list[OrderPushResult]:
        valid = [o for o in orders if guid(o.customer_erp_id) and len(o.customer_erp_id) == 36]
        found = dict(
            zip(
                [id(o) for o in valid],
                self._look_up([(o.customer_erp_id, o.reference) for o in valid]),
                strict=True,
            )
        )
        results = []
        for push in orders:
            if id(push) not in found:
                results.append(
                    self._refused(push, f"Business Central has no customer {push.customer_erp_id}.")
                )
                continue
            order, invoices = found[id(push)]
            if order is not None or invoices:
                record = self._state(order, invoices)
                results.append(
                    OrderPushResult(
                        push.reference,
                        push.customer_erp_id,
                        record.erp_id,
                        record.number,
                        record.state,
                        created=False,
                    )
                )
                continue
            try:
                made = self.client.request("POST", "salesOrders", body=self._body(push))
            except BusinessCentralError as exc:
                results.append(
                    self._refused(push, f"Business Central refused order {push.reference}: {exc.message}")
                )
                continue
            record = order_record(made, [])
            results.append(
                OrderPushResult(
                    push.reference,
                    push.customer_erp_id,
                    record.erp_id,
                    record.number,
                    record.state,
                    created=True,
                )
            )
        return results

    @staticmethod
    def _refused(push: OrderPush, error: str) -> OrderPushResult:
        return OrderPushResult(push.reference, push.customer_erp_id, "", "", "", created=False, error=error)

    @staticmethod
    def _body(push: OrderPush) -> dict[str, Any]:
        """The order with its lines in one request (deep insert: learn: api-reference/v2.0/
        dynamics-rate-limits), each line at the portal's frozen unit price: BC v2.0 has no price lists, so
        the line price is what BC invoices. BC's credit limit never blocks an API order (fact sheet §3)."""
        body: dict[str, Any] = {
            "customerId": push.customer_erp_id,
            "externalDocumentNumber": push.reference,
            "salesOrderLines": [
                {
                    "lineType": "Item",
                    "itemId": line.product_erp_id,
                    "quantity": line.quantity,
                    "unitPrice": line.unit_price,
                }
                for line in push.lines
            ],
        }
        if push.requested_date is not None:
            body["requestedDeliveryDate"] = push.requested_date.isoformat()
        ship_to = push.ship_to
        # One address per customer: the customer's own (its id) is BC's default; any other travels as the
        # order's free-text shipTo fields.
        if ship_to.erp_id.lower() != push.customer_erp_id.lower() and (ship_to.street or ship_to.city):
            body.update(
                shipToAddressLine1=ship_to.street,
                shipToCity=ship_to.city,
                shipToPostCode=ship_to.postal_code,
                shipToState=ship_to.region,
                shipToCountry=ship_to.country,
            )
        return body

    def cancel_orders(self, cancels: Sequence[OrderCancel]) -> list[OrderCancelResult]:
        """A cancel deletes the draft order (BC has no cancelled state: learn: api/dynamics_salesorder_delete,
        If-Match required). A released, shipped or invoiced order is refused: BC's people decide there.
        Nothing found (never made, or deleted already): nothing to cancel."""
        valid = [c for c in cancels if guid(c.customer_erp_id) and len(c.customer_erp_id) == 36]
        found = dict(
            zip(
                [id(c) for c in valid],
                self._look_up([(c.customer_erp_id, c.reference) for c in valid]),
                strict=True,
            )
        )
        results = []
        for cancel in cancels:
            order, invoices = found.get(id(cancel), (None, []))
            if order is None and not invoices:
                results.append(OrderCancelResult(cancel.reference, cancel.customer_erp_id, "", "cancelled"))
                continue
            results.append(self._delete(cancel, order, invoices))
        return results

    def _delete(
        self, cancel: OrderCancel, order: dict[str, Any] | None, invoices: list[dict[str, Any]]
    ) -> OrderCancelResult:
        for _ in range(DELETE_ATTEMPTS):
            record = self._state(order, invoices)
            if order is None or record.state != "quotation":
                return OrderCancelResult(
                    cancel.reference,
                    cancel.customer_erp_id,
                    record.erp_id,
                    record.state,
                    error=f"Order {record.number} is released, shipped or invoiced in Business Central: "
                    "it can only be stopped there.",
                )
            try:
                self.client.request(
                    "DELETE", f"salesOrders({order['id']})", headers={"If-Match": order["@odata.etag"]}
                )
            except StaleRecord:
                # Changed in BC since it was read (409 Request_EntityChanged): read it again and decide again.
                try:
                    order = self.client.request("GET", f"salesOrders({order['id']})?$expand=salesOrderLines")
                except BusinessCentralError as exc:
                    if exc.status != 404:
                        raise
                    return OrderCancelResult(
                        cancel.reference, cancel.customer_erp_id, record.erp_id, "cancelled"
                    )
                continue
            except BusinessCentralError as exc:
                if exc.status == 404:  # deleted meanwhile
                    return OrderCancelResult(
                        cancel.reference, cancel.customer_erp_id, record.erp_id, "cancelled"
                    )
                return OrderCancelResult(
                    cancel.reference, cancel.customer_erp_id, record.erp_id, record.state, error=exc.message
                )
            return OrderCancelResult(cancel.reference, cancel.customer_erp_id, record.erp_id, "cancelled")
        raise ErpTransientError(
            f"Order {cancel.reference} kept changing in Business Central while being cancelled."
        )
