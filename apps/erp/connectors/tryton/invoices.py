"""Invoices: customer invoices and credit notes with what is left to pay, their due date and their sales."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from apps.erp.connectors.base import (
    Cursor,
    ErpBusinessError,
    InvoiceDocument,
    InvoiceLineRecord,
    InvoicePaymentRecord,
    InvoiceRecord,
    Page,
    ReconcileRecord,
    invoice_reconcile_record,
)
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.connectors.tryton.common import (
    after_id,
    any_match,
    changed_after,
    changed_since,
    id_page,
    stamp,
)

# A payment or reconciliation may write only these lines of an invoice (see ``pull_invoices``).
LINE_PATHS = ("move.lines", "payment_lines", "additional_moves.lines")

# What an invoice's report comes as, by its format (the extension Tryton gives it).
DOCUMENT_TYPES = {
    "pdf": "application/pdf",
    "odt": "application/vnd.oasis.opendocument.text",
    "html": "text/html",
}

# What the invoice records are built from (``_invoice_records``).
INVOICE_FIELDS = [
    "number",
    "party",
    "invoice_date",
    "state",
    "currency.code",
    "total_amount",
    "amount_to_pay",
    "lines_to_pay.maturity_date",
    "lines_to_pay.reconciliation",
    "lines_to_pay.write_date",
    "lines_to_pay.create_date",
    "payment_lines.write_date",
    "payment_lines.create_date",
    "sales.reference",
    "write_date",
    "create_date",
]
# The invoice's lines, read by the pull in the same ``search_read`` (nested, in the invoice's order).
LINE_FIELDS = [
    "lines.type",
    "lines.product",
    "lines.product.code",
    "lines.description",
    "lines.quantity",
    "lines.unit_price",
    "lines.amount",
]
# The invoice's payments, read by the pull in the same ``search_read``: the move lines the pay wizard
# added to the invoice (``payment_lines``), kept there once the invoice is paid.
PAYMENT_FIELDS = [
    "currency",
    "payment_lines.date",
    "payment_lines.debit",
    "payment_lines.credit",
    "payment_lines.second_currency",
    "payment_lines.amount_second_currency",
    "payment_lines.reconciliation",
    "payment_lines.description",
    "payment_lines.move.number",
    "payment_lines.move.description",
]


class TrytonInvoices:
    """The invoice stream."""

    def __init__(self, client: TrytonClient) -> None:
        self.client = client

    def invoices_changed(self, since: datetime | None) -> bool:
        """A customer invoice (or a line of it) created or written after ``since``: the pull's rule."""
        domain = [*changed_after(since, *LINE_PATHS), ["type", "=", "out"]]
        return any_match(self.client, "account.invoice", domain)

    def pull_invoices(self, cursor: Cursor, limit: int) -> Page[InvoiceRecord]:
        """Customer invoices and credit notes (``type`` out, any state) changed since the cursor, by id.

        One ``search_read`` per page; the receivable lines, payment lines, sales, the invoice's lines and its
        payments come in it as nested reads. Changed means the invoice itself or, through ``move.lines``,
        ``payment_lines`` or ``additional_moves.lines``, a move line of it was created or written. Checked on
        Tryton 8.2: a payment through the invoice's pay wizard writes the invoice (``payment_lines``), and a
        reconciliation of its receivable lines writes those lines and, in a queued ``process`` after the
        commit, the invoice (``paid``, or back to ``posted`` when undone). A payment line that gets reconciled
        with something else raises what is left to pay while writing only that line: only ``payment_lines``
        sees it. ``move.lines`` and ``additional_moves.lines`` (rescheduled lines) are there for a
        reconciliation whose queued ``process`` has not run yet (a queue worker) or failed: what is left to
        pay has changed but the invoice is not written yet.

        ``due_date``: the earliest maturity of the receivable lines (``lines_to_pay``) not reconciled
        yet, else the last maturity (paid), the invoice date for lines without a maturity, None without
        lines (draft, validated). ``amount_paid``: ``total_amount - amount_to_pay`` once posted, the
        total once paid, 0 before posting and when cancelled; a credit note has a negative total and,
        with the same formula, a negative ``amount_paid`` as it is used up. ``payments``: each payment
        line, on its move's date, for what it settles (credit less debit of the receivable account: a
        credit note's refund is negative), by date, but those reconciled with something else (they no
        longer pay it); a payment reconciled with the invoice's receivable lines without the pay wizard
        is not among them, so they may add up to less than ``amount_paid``.
        """
        domain = [
            *changed_since(cursor.since, *LINE_PATHS),
            ["id", ">", after_id(cursor.after)],
            ["type", "=", "out"],
        ]
        rows = self.client.search_read(
            "account.invoice",
            domain,
            [*INVOICE_FIELDS, *LINE_FIELDS, *PAYMENT_FIELDS],
            limit=limit,
            order=[["id", "ASC"]],
        )
        return id_page(_invoice_records(rows, with_lines=True), rows, cursor.after, limit)

    def reconcile_invoices(self, after: str, limit: int) -> Page[ReconcileRecord]:
        """Every customer invoice and credit note (``type`` out, any state), by id: one ``search_read``
        (the pull's), the pull's records. ``reference`` is the number (empty for drafts)."""
        rows = self.client.search_read(
            "account.invoice",
            [["id", ">", after_id(after)], ["type", "=", "out"]],
            INVOICE_FIELDS,
            limit=limit,
            order=[["id", "ASC"]],
        )
        records = [invoice_reconcile_record(record) for record in _invoice_records(rows)]
        return id_page(records, rows, after, limit)

    def invoice_document(self, erp_id: str) -> InvoiceDocument:
        """The invoice's own report (``report.account.invoice``), as the ERP prints it: Tryton keeps the
        first rendering of a posted invoice and gives that one back ever after. Its format is the
        report's: the template's (OpenDocument) unless the ERP's people set the report to convert to
        PDF, which needs LibreOffice on the ERP's server."""
        rows = []
        if erp_id.isdigit():
            rows = self.client.search_read(
                "account.invoice",
                [["id", "=", int(erp_id)], ["type", "=", "out"]],
                ["number", "state"],
                limit=1,
            )
        if not rows:
            raise ErpBusinessError(f"The ERP has no customer invoice {erp_id}.")
        if rows[0]["state"] not in ("posted", "paid"):
            raise ErpBusinessError("The ERP prints an invoice only once it is posted.")
        extension, content, name = self.client.report("account.invoice", [rows[0]["id"]])
        content_type = DOCUMENT_TYPES.get(extension, "application/octet-stream")
        stem = (rows[0]["number"] or name).replace("/", "-")
        return InvoiceDocument(content, content_type, f"{stem}.{extension}")


def _invoice_lines(row: dict[str, Any]) -> list[InvoiceLineRecord]:
    """The invoice's lines of type ``line`` (titles, comments and subtotals left out); a line without a
    product (a service booked to an account) has no product id or SKU."""
    lines = []
    for line in row.get("lines.") or []:
        if line["type"] != "line":
            continue
        product = line.get("product.") or {}
        lines.append(
            InvoiceLineRecord(
                product_erp_id=str(line["product"]) if line["product"] else "",
                sku=(product.get("code") or f"ERP-{line['product']}") if line["product"] else "",
                description=line["description"] or "",
                quantity=Decimal(str(line["quantity"] or 0)),
                unit_price=line["unit_price"] if line["unit_price"] is not None else Decimal(0),
                amount=line["amount"] if line["amount"] is not None else Decimal(0),
            )
        )
    return lines


def _invoice_payments(row: dict[str, Any]) -> list[InvoicePaymentRecord]:
    """The invoice's payment lines (see ``pull_invoices``), by date then id, but those reconciled with
    something other than the invoice's receivable lines (Tryton drops them once the invoice is paid); the
    amount in the invoice's currency (``amount_second_currency`` when it is the line's second currency)."""
    own = {line["reconciliation"] for line in row.get("lines_to_pay.") or [] if line["reconciliation"]}
    payments = []
    for line in sorted(row.get("payment_lines.") or [], key=lambda line: (line["date"], line["id"])):
        if line["reconciliation"] and line["reconciliation"] not in own:
            continue
        if line["second_currency"] and line["second_currency"] == row["currency"]:
            amount = -(line["amount_second_currency"] or Decimal(0))
        else:
            amount = (line["credit"] or Decimal(0)) - (line["debit"] or Decimal(0))
        move = line.get("move.") or {}
        reference = move.get("number") or line["description"] or move.get("description") or ""
        payments.append(InvoicePaymentRecord(paid_on=line["date"], amount=amount, reference=reference))
    return payments


def _invoice_records(rows: list[dict[str, Any]], *, with_lines: bool = False) -> list[InvoiceRecord]:
    """The invoice records of ``rows`` (``INVOICE_FIELDS``, and ``LINE_FIELDS`` and ``PAYMENT_FIELDS``
    ``with_lines``), in their order (see ``pull_invoices``)."""
    records = []
    for row in rows:
        lines = row.get("lines_to_pay.") or []
        payments = row.get("payment_lines.") or []
        total = row["total_amount"] if row["total_amount"] is not None else Decimal(0)
        records.append(
            InvoiceRecord(
                erp_id=str(row["id"]),
                customer_erp_id=str(row["party"]),
                number=row["number"] or "",
                invoice_date=row["invoice_date"],
                due_date=_due_date(lines, row["invoice_date"]),
                currency=(row.get("currency.") or {}).get("code") or "",
                total_amount=total,
                amount_paid=_amount_paid(row["state"], total, row["amount_to_pay"]),
                state=row["state"],
                sale_references=sorted(
                    {
                        (sale["reference"] or "").strip()
                        for sale in row.get("sales.") or []
                        if (sale["reference"] or "").strip()
                    }
                ),
                changed_at=stamp(
                    row["write_date"],
                    row["create_date"],
                    *(line[name] for line in [*lines, *payments] for name in ("write_date", "create_date")),
                ),
                lines=_invoice_lines(row) if with_lines else None,
                payments=_invoice_payments(row) if with_lines else None,
            )
        )
    return records


def _due_date(lines: list[dict[str, Any]], invoice_date: date | None) -> date | None:
    """The earliest maturity still open, else (all reconciled) the last one; None without lines."""
    if not lines:
        return None
    maturities = [(line["maturity_date"] or invoice_date, line["reconciliation"]) for line in lines]
    open_dates = [day for day, reconciliation in maturities if day is not None and not reconciliation]
    if open_dates:
        return min(open_dates)
    return max((day for day, _ in maturities if day is not None), default=None)


def _amount_paid(state: str, total: Decimal, amount_to_pay: Decimal | None) -> Decimal:
    if state == "paid":
        return total
    if state == "posted":
        return total - (amount_to_pay or Decimal(0))
    return Decimal(0)  # draft, validated, cancelled: nothing is owed, so nothing counts as paid
