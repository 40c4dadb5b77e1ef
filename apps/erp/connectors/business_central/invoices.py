"""Sales invoices and credit memos of Business Central (learn: api-reference/v2.0/resources/
dynamics_salesinvoice, dynamics_salescreditmemo).

Invoices carry ``remainingAmount``: paid = total - remaining. Credit memos have no remaining amount in
v2.0, so what was refunded follows from their status (Paid: all of it; else nothing) and their total is
negative, as a credit note's is to the portal. One run reads the invoices changed since the cursor, then
the credit memos (``Page.next`` says which phase).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from apps.erp.connectors.base import (
    Cursor,
    InvoiceLineRecord,
    InvoiceRecord,
    Page,
    ReconcileRecord,
    invoice_reconcile_record,
)
from apps.erp.connectors.business_central.client import BusinessCentralClient, BusinessCentralError
from apps.erp.connectors.business_central.common import (
    Phase,
    after_filter,
    guid,
    parse_date,
    parse_time,
    phased_page,
    query,
    since_filter,
)

INVOICES, MEMOS = "invoices:", "memos:"
# learn: .../dynamics_salesinvoice — status " ", Draft, In Review, Open, Paid, Canceled, Corrective.
STATES = {
    "Draft": "draft",
    "In Review": "draft",
    " ": "draft",
    "Open": "posted",
    "Paid": "paid",
    "Canceled": "cancelled",
    "Corrective": "cancelled",
}


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0))


LINES = {False: "salesInvoiceLines", True: "salesCreditMemoLines"}


def invoice_lines(rows: list[dict[str, Any]], *, memo: bool) -> list[InvoiceLineRecord]:
    """The document's lines by ``sequence``, comments left out; only an Item line names a product (an
    Account, Resource or Charge line's ``lineObjectNumber`` is no SKU). A credit memo's amounts are
    negative, as its total is to the portal."""
    sign = Decimal(-1) if memo else Decimal(1)
    lines = []
    for line in sorted(rows, key=lambda line: line.get("sequence") or 0):
        if line.get("lineType") == "Comment":
            continue
        item = line.get("lineType") == "Item" and guid(line.get("itemId"))
        lines.append(
            InvoiceLineRecord(
                product_erp_id=item or "",
                sku=(line.get("lineObjectNumber") or "") if item else "",
                description=line.get("description") or "",
                quantity=_dec(line.get("quantity")),
                unit_price=_dec(line.get("unitPrice")),
                amount=sign * _dec(line.get("amountExcludingTax")),
            )
        )
    return lines


def invoice_record(row: dict[str, Any], currency: str, *, memo: bool) -> InvoiceRecord:
    total = _dec(row.get("totalAmountIncludingTax"))
    state = STATES.get(row.get("status") or " ", "posted")
    if memo:
        paid = total if state == "paid" else Decimal(0)
        total, paid = -total, -paid
        invoice_date = parse_date(row.get("creditMemoDate") or row.get("postingDate"))
    else:
        paid = total - _dec(row.get("remainingAmount"))
        invoice_date = parse_date(row.get("invoiceDate") or row.get("postingDate"))
    reference = row.get("externalDocumentNumber") or ""
    return InvoiceRecord(
        erp_id=row["id"].lower(),
        customer_erp_id=row["customerId"].lower(),
        number=row.get("number") or "",
        invoice_date=invoice_date,
        due_date=parse_date(row.get("dueDate")) if state != "draft" else None,
        currency=row.get("currencyCode") or currency,
        total_amount=total,
        amount_paid=paid,
        state=state,
        sale_references=[reference] if reference and not memo else [],
        changed_at=parse_time(row["lastModifiedDateTime"]),
        lines=invoice_lines(row[LINES[memo]], memo=memo) if LINES[memo] in row else None,
    )


class BusinessCentralInvoices:
    def __init__(self, client: BusinessCentralClient, currency: str) -> None:
        self.client = client
        self.currency = currency  # BC's local currency: what an empty currencyCode means

    def invoices_changed(self, since: datetime | None) -> list[str]:
        return [
            query("salesInvoices", after_filter(since), select="id", top=1),
            query("salesCreditMemos", after_filter(since), select="id", top=1),
        ]

    def _page(
        self, since: datetime | None, after: str, limit: int, *, with_lines: bool = False
    ) -> tuple[list[InvoiceRecord], str, bool]:
        """``with_lines``: each document's lines come expanded in the same request."""
        phases: list[Phase[InvoiceRecord]] = [
            Phase(
                INVOICES,
                query("salesInvoices", since_filter(since), expand=LINES[False] if with_lines else ""),
                lambda rows: [invoice_record(row, self.currency, memo=False) for row in rows],
            ),
            Phase(
                MEMOS,
                query("salesCreditMemos", since_filter(since), expand=LINES[True] if with_lines else ""),
                lambda rows: [invoice_record(row, self.currency, memo=True) for row in rows],
            ),
        ]
        return phased_page(self.client, phases, after, limit)

    def pull_invoices(self, cursor: Cursor, limit: int) -> Page[InvoiceRecord]:
        records, position, more = self._page(cursor.since, cursor.after, limit, with_lines=True)
        return Page(records, position, more)

    @staticmethod
    def reconcile_record(record: InvoiceRecord) -> ReconcileRecord:
        return invoice_reconcile_record(record)

    def reconcile_invoices(self, after: str, limit: int) -> Page[ReconcileRecord]:
        records, position, more = self._page(None, after, limit)
        return Page([self.reconcile_record(record) for record in records], position, more)

    def reconcile_one(self, key: str) -> ReconcileRecord | None:
        for entity_set, memo in (("salesInvoices", False), ("salesCreditMemos", True)):
            try:
                row = self.client.request("GET", f"{entity_set}({key})")
            except BusinessCentralError as exc:
                if exc.status != 404:
                    raise
                continue
            return self.reconcile_record(invoice_record(row, self.currency, memo=memo))
        return None
