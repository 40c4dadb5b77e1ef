"""Invoices: ``account.move`` customer invoices (``out_invoice``) and credit notes (``out_refund``) with what
is left to pay (``amount_residual``), their due date and the PO numbers of the orders they invoice."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from apps.erp.connectors.base import (
    Cursor,
    InvoiceRecord,
    Page,
    ReconcileRecord,
    invoice_reconcile_record,
)
from apps.erp.connectors.odoo.client import OdooClient
from apps.erp.connectors.odoo.common import (
    after_id,
    any_match,
    changed_after,
    changed_since,
    decimal,
    id_page,
    many2one,
    many2one_name,
    stamp,
    text,
)

CUSTOMER_MOVES: list[Any] = [["move_type", "in", ["out_invoice", "out_refund"]]]
INVOICE_FIELDS = [
    "name",
    "move_type",
    "state",
    "partner_id",
    "invoice_date",
    "invoice_date_due",
    "currency_id",
    "amount_total",
    "amount_residual",
    "payment_state",
    "invoice_origin",
    "write_date",
]
PAID = frozenset({"paid", "in_payment", "reversed"})


class OdooInvoices:
    def __init__(self, client: OdooClient) -> None:
        self.client = client

    def invoices_changed(self, since: datetime | None) -> bool:
        return any_match(self.client, "account.move", [*changed_after(since), *CUSTOMER_MOVES])

    def pull_invoices(self, cursor: Cursor, limit: int) -> Page[InvoiceRecord]:
        """Customer invoices and credit notes (any state) written since the cursor, by id. A payment
        changes ``amount_residual``, a stored field: the move's ``write_date`` moves with it."""
        domain = [*changed_since(cursor.since), ["id", ">", after_id(cursor.after)], *CUSTOMER_MOVES]
        rows = self.client.call(
            "account.move", "search_read", domain=domain, fields=INVOICE_FIELDS, limit=limit, order="id asc"
        )
        return id_page(self._records(rows), rows, cursor.after, limit)

    def reconcile_invoices(
        self, after: str, limit: int, ids: list[int] | None = None
    ) -> Page[ReconcileRecord]:
        domain: list[Any] = [["id", ">", after_id(after)], *CUSTOMER_MOVES]
        if ids is not None:
            domain.append(["id", "in", ids])
        rows = self.client.call(
            "account.move",
            "search_read",
            domain=domain,
            fields=INVOICE_FIELDS,
            limit=limit or None,
            order="id asc",
        )
        records = [invoice_reconcile_record(record) for record in self._records(rows)]
        return id_page(records, rows, after, limit)

    def _records(self, rows: list[dict[str, Any]]) -> list[InvoiceRecord]:
        """The invoice records of ``rows``; one ``search_read`` of the orders named in their
        ``invoice_origin`` (the order numbers, comma-separated) for the PO numbers.

        ``state``: draft, posted, paid (posted and ``payment_state`` paid, in payment or reversed),
        cancelled. ``total_amount``: ``amount_total``, negative for a credit note; ``amount_paid``:
        ``amount_total - amount_residual`` (same sign) once posted, 0 before and when cancelled.
        ``due_date``: ``invoice_date_due`` once posted."""
        origins = {
            name.strip() for row in rows for name in text(row["invoice_origin"]).split(",") if name.strip()
        }
        references: dict[str, str] = {}
        if origins:
            for order in self.client.call(
                "sale.order",
                "search_read",
                domain=[["name", "in", sorted(origins)]],
                fields=["name", "client_order_ref"],
            ):
                references[order["name"]] = text(order["client_order_ref"]).strip()
        records = []
        for row in rows:
            sign = Decimal(-1) if row["move_type"] == "out_refund" else Decimal(1)
            total = sign * decimal(row["amount_total"])
            posted = row["state"] == "posted"
            paid = (
                sign * (decimal(row["amount_total"]) - decimal(row["amount_residual"]))
                if posted
                else Decimal(0)
            )
            state = {"draft": "draft", "cancel": "cancelled"}.get(row["state"], "posted")
            if posted and row["payment_state"] in PAID:
                state = "paid"
            names = [name.strip() for name in text(row["invoice_origin"]).split(",")]
            records.append(
                InvoiceRecord(
                    erp_id=str(row["id"]),
                    customer_erp_id=str(many2one(row["partner_id"])),
                    number=text(row["name"]) if row["state"] != "draft" and text(row["name"]) != "/" else "",
                    invoice_date=_day(row["invoice_date"]),
                    due_date=_day(row["invoice_date_due"]) if posted else None,
                    currency=many2one_name(row["currency_id"]) or "",
                    total_amount=total,
                    amount_paid=paid,
                    state=state,
                    sale_references=sorted({references[name] for name in names if references.get(name)}),
                    changed_at=stamp(row["write_date"]),
                )
            )
        return records


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None
