"""Products (variants with their template's category, unit and list price, and their cost) and their stock
on hand.

``cost_price`` is a company value of the variant (``product.cost_price`` rows, Tryton 8.2
``modules/product/product.py``), read in the service user's company; a variant nobody costed reads 0
there, taken as no cost. A cost written by itself (e.g. the average cost after a receipt) stamps only its
``cost_prices`` row, so the pull's change domain follows those rows too."""

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
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.connectors.tryton.common import (
    EPOCH,
    after_id,
    any_match,
    changed_after,
    changed_since,
    id_page,
    stamp,
)

# What the product records are built from (``TrytonProducts._product_records``).
PRODUCT_FIELDS = [
    "code",
    "name",
    "active",
    "list_price_used",
    "cost_price",
    "default_uom.symbol",
    "template.categories",
    "template.active",
    "template.salable",
    "template.write_date",
    "template.create_date",
    "write_date",
    "create_date",
]

# Where a change to a product's record is written: the variant, its template (list price, category) and
# its company cost rows.
CHANGED_WITH = ("template", "cost_prices")


class TrytonProducts:
    """The product and stock streams; category names and storage locations are read once per connector."""

    def __init__(self, client: TrytonClient) -> None:
        self.client = client
        self._storage_locations: list[int] | None = None
        self._category_names: dict[int, str] = {}

    # -- change detection ----------------------------------------------------------------------------------
    def products_changed(self, since: datetime | None) -> bool:
        """A product (or its template: the list price lives there) created or written after ``since``."""
        return any_match(
            self.client, "product.product", changed_after(since, *CHANGED_WITH), {"active_test": False}
        )

    def stock_changed(self, since: datetime | None) -> bool:
        """A stock move created or written after ``since``; without ``since`` (no snapshot yet) any
        product at all."""
        if since is None:
            return any_match(self.client, "product.product", [])
        return any_match(self.client, "stock.move", changed_after(since))

    # -- products ------------------------------------------------------------------------------------------
    def pull_products(self, cursor: Cursor, limit: int) -> Page[ProductRecord]:
        domain = [*changed_since(cursor.since, *CHANGED_WITH), ["id", ">", after_id(cursor.after)]]
        rows = self.client.search_read(
            "product.product",
            domain,
            PRODUCT_FIELDS,
            limit=limit,
            order=[["id", "ASC"]],
            context={"active_test": False},
        )
        return id_page(self._product_records(rows), rows, cursor.after, limit)

    def reconcile_products(self, after: str, limit: int) -> Page[ReconcileRecord]:
        """Every product, archived ones included, by id: one ``search_read`` (the pull's), the pull's
        records. ``reference`` is the SKU; ``active`` the record's ``is_active`` (the product and its
        template active, and salable: what the portal keeps as the product's active flag)."""
        rows = self.client.search_read(
            "product.product",
            [["id", ">", after_id(after)]],
            PRODUCT_FIELDS,
            limit=limit,
            order=[["id", "ASC"]],
            context={"active_test": False},
        )
        records = [product_reconcile_record(record) for record in self._product_records(rows)]
        return id_page(records, rows, after, limit)

    def _product_records(self, rows: list[dict[str, Any]]) -> list[ProductRecord]:
        """The product records of ``rows`` (``PRODUCT_FIELDS``), in their order; one read of the
        category names not read before."""
        category_ids = {
            category for row in rows for category in (row.get("template.") or {}).get("categories", [])[:1]
        }
        names = self._categories(category_ids)
        records = []
        for row in rows:
            template = row.get("template.") or {}
            categories = template.get("categories") or []
            category_id = categories[0] if categories else None
            records.append(
                ProductRecord(
                    erp_id=str(row["id"]),
                    sku=row["code"] or f"ERP-{row['id']}",
                    name=row["name"],
                    category_id=str(category_id) if category_id else None,
                    category_name=names.get(category_id) if category_id else None,
                    unit=(row.get("default_uom.") or {}).get("symbol") or "",
                    list_price=row["list_price_used"] if row["list_price_used"] is not None else Decimal("0"),
                    cost_price=row["cost_price"] or None,
                    is_active=bool(
                        row["active"] and template.get("active", True) and template.get("salable", True)
                    ),
                    changed_at=stamp(
                        row["write_date"],
                        row["create_date"],
                        template.get("write_date"),
                        template.get("create_date"),
                    ),
                )
            )
        return records

    def _categories(self, ids: set[int]) -> dict[int, str]:
        unknown = [category for category in ids if category not in self._category_names]
        if unknown:
            for row in self.client.read("product.category", unknown, ["name"]):
                self._category_names[row["id"]] = row["name"]
        return {
            category: self._category_names[category] for category in ids if category in self._category_names
        }

    # -- stock ---------------------------------------------------------------------------------------------
    def _storage(self) -> list[int]:
        if self._storage_locations is None:
            warehouses = self.client.search_read(
                "stock.location", [["type", "=", "warehouse"]], ["storage_location"]
            )
            self._storage_locations = [
                row["storage_location"] for row in warehouses if row["storage_location"]
            ]
        return self._storage_locations

    def pull_stock(self, cursor: Cursor, limit: int) -> Page[StockRecord]:
        """Stock of the products whose moves changed since the cursor (all products on a first pull).

        Tryton computes quantities from moves, so the stream follows ``stock.move`` and re-reads the
        on-hand quantity of the products those moves touch.
        """
        if cursor.since is None:
            product_rows = self.client.search_read(
                "product.product",
                [["id", ">", after_id(cursor.after)]],
                ["id"],
                limit=limit,
                order=[["id", "ASC"]],
            )
            product_ids = [row["id"] for row in product_rows]
            last = str(product_ids[-1]) if product_ids else cursor.after
            has_more = len(product_ids) == limit
            stamps: dict[int, datetime] = {}
        else:
            moves = self.client.search_read(
                "stock.move",
                [*changed_since(cursor.since), ["id", ">", after_id(cursor.after)]],
                ["product", "write_date", "create_date"],
                limit=limit,
                order=[["id", "ASC"]],
            )
            stamps = {}
            for move in moves:
                moved = stamp(move["write_date"], move["create_date"])
                stamps[move["product"]] = max(stamps.get(move["product"], EPOCH), moved)
            product_ids = sorted(stamps)
            last = str(moves[-1]["id"]) if moves else cursor.after
            has_more = len(moves) == limit
        if not product_ids:
            return Page([], last, has_more)
        as_of = datetime.now(tz=UTC)
        rows = self.client.read(
            "product.product",
            product_ids,
            ["quantity"],
            context={"locations": self._storage(), "active_test": False},
        )
        return Page(self._stock_records(rows, stamps, as_of), last, has_more)

    def reconcile_stock(self, after: str, limit: int) -> Page[ReconcileRecord]:
        """The stock of every goods product (archived ones included), by product id: ONE ``search_read``
        that also computes the storage quantity (the ``locations`` context, as the pull reads it).
        ``active`` is the product's own ``active`` flag."""
        as_of = datetime.now(tz=UTC)
        rows = self.client.search_read(
            "product.product",
            [["id", ">", after_id(after)], ["template.type", "=", "goods"]],
            ["active", "quantity"],
            limit=limit,
            order=[["id", "ASC"]],
            context={"locations": self._storage(), "active_test": False},
        )
        records = [
            stock_reconcile_record(record, active=bool(row["active"]))
            for row, record in zip(rows, self._stock_records(rows, {}, as_of), strict=True)
        ]
        return id_page(records, rows, after, limit)

    @staticmethod
    def _stock_records(
        rows: list[dict[str, Any]], stamps: dict[int, datetime], as_of: datetime
    ) -> list[StockRecord]:
        """The stock records of ``rows`` (with the ``quantity`` read in the storage locations)."""
        return [
            StockRecord(
                product_erp_id=str(row["id"]),
                quantity=Decimal(str(row["quantity"])),
                as_of=as_of,
                changed_at=stamps.get(row["id"]),
            )
            for row in rows
        ]
