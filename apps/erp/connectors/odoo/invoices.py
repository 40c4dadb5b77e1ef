"""Invoices: ``account.move`` customer invoices (``out_invoice``) and credit notes (``out_refund``) with what
is left to pay (``amount_residual``), their due date and the PO numbers of the orders they invoice."""

from __future__ import annotations

from datetime import date, datetime
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
from apps.erp.connectors.odoo.client import OdooClient
from apps.erp.connectors.odoo.common import (
    EVERY,
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
LINE_FIELDS = ["move_id", "product_id", "name", "quantity", "price_unit", "price_subtotal"]
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
        return id_page(self._records(rows, with_lines=True), rows, cursor.after, limit)

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

    def _lines(self, move_ids: list[int]) -> dict[int, list[InvoiceLineRecord]]:
        """The moves' invoice lines (``display_type`` product: not sections, notes, tax or receivable
        lines) in their order, and their products' SKUs (archived ones too): two ``search_read``."""
        if not move_ids:
            return {}
        rows = self.client.call(
            "account.move.line",
            "search_read",
            domain=[["move_id", "in", move_ids], ["display_type", "=", "product"]],
            fields=LINE_FIELDS,
            order="move_id asc, sequence asc, id asc",
        )
        product_ids = sorted({pk for row in rows if (pk := many2one(row["product_id"])) is not None})
        codes = {}
        if product_ids:
            for product in self.client.call(
                "product.product",
                "search_read",
                domain=[["id", "in", product_ids]],
                fields=["default_code"],
                context=EVERY,
            ):
                codes[product["id"]] = text(product["default_code"]) or f"ERP-{product['id']}"
        lines: dict[int, list[InvoiceLineRecord]] = {}
        for row in rows:
            product = many2one(row["product_id"])
            lines.setdefault(int(row["move_id"][0]), []).append(
                InvoiceLineRecord(
                    product_erp_id=str(product) if product else "",
                    sku=codes.get(product, "") if product else "",
                    description=text(row["name"]),
                    quantity=decimal(row["quantity"]),
                    unit_price=decimal(row["price_unit"]),
                    amount=decimal(row["price_subtotal"]),
                )
            )
        return lines

    def _records(self, rows: list[dict[str, Any]], *, with_lines: bool = False) -> list[InvoiceRecord]:
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
        lines = self._lines([row["id"] for row in rows]) if with_lines else {}
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
                    lines=[_signed(line, sign) for line in lines.get(row["id"], [])] if with_lines else None,
                )
            )
        return records


def _signed(line: InvoiceLineRecord, sign: Decimal) -> InvoiceLineRecord:
    """A credit note's line amounts negative, as its total is."""
    if sign > 0:
        return line
    return InvoiceLineRecord(
        line.product_erp_id, line.sku, line.description, line.quantity, line.unit_price, -line.amount
    )


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None
