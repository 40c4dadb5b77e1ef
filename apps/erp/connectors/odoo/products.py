"""Products (``product.product`` variants: SKU in ``default_code``; ``standard_price`` the cost, company
dependent, 0 when nobody costed it: taken as no cost) and their stock on hand (``stock.quant``
in internal locations: a stock change writes the quant, never the product's ``write_date``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from apps.erp.connectors.base import (
    Cursor,
    Page,
    ProductRecord,
    ReconcileRecord,
    StockRecord,
    product_reconcile_record,
    stock_reconcile_record,
)
from apps.erp.connectors.odoo.client import OdooClient
from apps.erp.connectors.odoo.common import (
    EPOCH,
    EVERY,
    after_id,
    any_match,
    changed_after,
    changed_since,
    decimal,
    id_page,
    many2one,
    many2one_name,
    parse_stamp,
    text,
)

PRODUCT_FIELDS = [
    "default_code",
    "name",
    "active",
    "sale_ok",
    "lst_price",
    "standard_price",
    "uom_id",
    "categ_id",
    "write_date",
]
# The products whose stock is kept (Odoo 18+: goods are type "consu" with is_storable).
STORABLE: list[Any] = [["is_storable", "=", True]]
INTERNAL_QUANTS: list[Any] = [["location_id.usage", "=", "internal"]]


class OdooProducts:
    def __init__(self, client: OdooClient) -> None:
        self.client = client

    # -- change detection ----------------------------------------------------------------------------------
    def products_changed(self, since: datetime | None) -> bool:
        return any_match(self.client, "product.product", changed_after(since), EVERY)

    def stock_changed(self, since: datetime | None) -> bool:
        """A quant written after ``since``; without ``since`` (no snapshot yet) any storable product."""
        if since is None:
            return any_match(self.client, "product.product", STORABLE)
        return any_match(self.client, "stock.quant", [*changed_after(since), *INTERNAL_QUANTS])

    # -- products ------------------------------------------------------------------------------------------
    def pull_products(self, cursor: Cursor, limit: int) -> Page[ProductRecord]:
        """Products (archived ones too: the portal deactivates them) written since the cursor, by id."""
        domain = [*changed_since(cursor.since), ["id", ">", after_id(cursor.after)]]
        rows = self.client.call(
            "product.product",
            "search_read",
            domain=domain,
            fields=PRODUCT_FIELDS,
            limit=limit,
            order="id asc",
            context=EVERY,
        )
        return id_page(_product_records(rows), rows, cursor.after, limit)

    def reconcile_products(
        self, after: str, limit: int, ids: list[int] | None = None
    ) -> Page[ReconcileRecord]:
        domain: list[Any] = [["id", ">", after_id(after)]]
        if ids is not None:
            domain.append(["id", "in", ids])
        rows = self.client.call(
            "product.product",
            "search_read",
            domain=domain,
            fields=PRODUCT_FIELDS,
            limit=limit or None,
            order="id asc",
            context=EVERY,
        )
        records = [product_reconcile_record(record) for record in _product_records(rows)]
        return id_page(records, rows, after, limit)

    # -- stock ---------------------------------------------------------------------------------------------
    def pull_stock(self, cursor: Cursor, limit: int) -> Page[StockRecord]:
        """The first run (no ``since``): every storable product's on-hand quantity, by product id. Later
        runs: the quants in internal locations written since the cursor, by quant id, and the on-hand
        quantity of their products (``qty_available``, read at once), stamped with their quants' latest
        ``write_date``. A product whose quants are on two pages comes twice (harmless upserts)."""
        position = after_id(cursor.after)
        stamps: dict[int, datetime] = {}
        if cursor.since is None:
            rows = self.client.call(
                "product.product",
                "search_read",
                domain=[*STORABLE, ["id", ">", position]],
                fields=["qty_available"],
                limit=limit,
                order="id asc",
            )
            as_of = datetime.now(tz=UTC)
            return id_page(_stock_records(rows, stamps, as_of), rows, cursor.after, limit)
        quants = self.client.call(
            "stock.quant",
            "search_read",
            domain=[*changed_since(cursor.since), *INTERNAL_QUANTS, ["id", ">", position]],
            fields=["product_id", "write_date"],
            limit=limit,
            order="id asc",
        )
        for quant in quants:
            product = many2one(quant["product_id"])
            changed = parse_stamp(quant["write_date"])
            if product is not None and changed is not None:
                stamps[product] = max(stamps.get(product, EPOCH), changed)
        if not stamps:
            return id_page([], quants, cursor.after, limit)
        as_of = datetime.now(tz=UTC)
        rows = self.client.call(
            "product.product", "read", ids=sorted(stamps), fields=["qty_available"], context=EVERY
        )
        return id_page(_stock_records(rows, stamps, as_of), quants, cursor.after, limit)

    def reconcile_stock(self, after: str, limit: int, ids: list[int] | None = None) -> Page[ReconcileRecord]:
        """Every storable product's on-hand quantity (archived products too), by product id."""
        domain: list[Any] = [*STORABLE, ["id", ">", after_id(after)]]
        if ids is not None:
            domain.append(["id", "in", ids])
        as_of = datetime.now(tz=UTC)
        rows = self.client.call(
            "product.product",
            "search_read",
            domain=domain,
            fields=["active", "qty_available"],
            limit=limit or None,
            order="id asc",
            context=EVERY,
        )
        records = [
            stock_reconcile_record(record, active=bool(row["active"]))
            for row, record in zip(rows, _stock_records(rows, {}, as_of), strict=True)
        ]
        return id_page(records, rows, after, limit)


def _product_records(rows: list[dict[str, Any]]) -> list[ProductRecord]:
    records = []
    for row in rows:
        category = many2one(row["categ_id"])
        records.append(
            ProductRecord(
                erp_id=str(row["id"]),
                sku=text(row["default_code"]) or f"ERP-{row['id']}",
                name=text(row["name"]),
                category_id=str(category) if category else None,
                category_name=many2one_name(row["categ_id"]) if category else None,
                unit=many2one_name(row["uom_id"]) or "",
                list_price=decimal(row["lst_price"]),
                cost_price=decimal(row["standard_price"]) or None,
                is_active=bool(row["active"] and row["sale_ok"]),
                changed_at=parse_stamp(row["write_date"]) or EPOCH,
            )
        )
    return records


def _stock_records(
    rows: list[dict[str, Any]], stamps: dict[int, datetime], as_of: datetime
) -> list[StockRecord]:
    return [
        StockRecord(
            product_erp_id=str(row["id"]),
            quantity=Decimal(decimal(row["qty_available"])),
            as_of=as_of,
            changed_at=stamps.get(row["id"]),
        )
        for row in rows
    ]
