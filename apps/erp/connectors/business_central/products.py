"""The product and stock streams of Business Central: ``items`` (``blocked`` = inactive, ``unitPrice`` the
list price, ``unitCost`` the cost: 0 on an item nobody costed, taken as no cost) and their ``inventory``,
the total on hand (learn: api-reference/v2.0/resources/dynamics_item).

``inventory`` is a FlowField over the item ledger: posting stock does not modify the item, so its
``lastModifiedDateTime`` says nothing about stock. The stock pull follows ``itemLedgerEntries`` by their
own ``lastModifiedDateTime`` (learn: .../dynamics_itemledgerentry) and re-reads the items they moved, in
one ``$batch`` per page. Per-location stock is not in the standard API (fact sheet §2): the total it is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from apps.erp.connectors.base import (
    Cursor,
    ErpTransientError,
    Page,
    ProductRecord,
    ReconcileRecord,
    StockRecord,
    product_reconcile_record,
    stock_reconcile_record,
)
from apps.erp.connectors.business_central.client import BusinessCentralClient, batch_error, odata_text
from apps.erp.connectors.business_central.common import (
    after_filter,
    guid,
    link_page,
    parse_time,
    query,
    read_page,
    since_filter,
)


class BusinessCentralProducts:
    def __init__(self, client: BusinessCentralClient) -> None:
        self.client = client

    @staticmethod
    def records(rows: list[dict[str, Any]]) -> list[ProductRecord]:
        return [
            ProductRecord(
                erp_id=row["id"].lower(),
                sku=row["number"],
                name=row["displayName"],
                category_id=guid(row.get("itemCategoryId")),
                category_name=row.get("itemCategoryCode") or None,
                unit=row.get("baseUnitOfMeasureCode") or "",
                list_price=Decimal(str(row.get("unitPrice") or 0)),
                cost_price=Decimal(str(row["unitCost"])) if row.get("unitCost") else None,
                is_active=not row.get("blocked"),
                changed_at=parse_time(row["lastModifiedDateTime"]),
            )
            for row in rows
        ]

    @staticmethod
    def stock_records(rows: list[dict[str, Any]], stamps: dict[str, datetime]) -> list[StockRecord]:
        as_of = datetime.now(UTC)
        return [
            StockRecord(
                product_erp_id=row["id"].lower(),
                quantity=Decimal(str(row.get("inventory") or 0)),
                as_of=as_of,
                changed_at=stamps.get(row["number"]),
            )
            for row in rows
        ]

    # -- change questions (a path each, asked together in one $batch) --------------------------------------
    def products_changed(self, since: datetime | None) -> str:
        return query("items", after_filter(since), select="id", top=1)

    def stock_changed(self, since: datetime | None) -> str:
        return query("itemLedgerEntries", after_filter(since), select="id", top=1)

    # -- pulls ---------------------------------------------------------------------------------------------
    def pull_products(self, cursor: Cursor, limit: int) -> Page[ProductRecord]:
        rows, link = read_page(self.client, query("items", since_filter(cursor.since)), cursor.after, limit)
        return link_page(self.records(rows), link)

    def pull_stock(self, cursor: Cursor, limit: int) -> Page[StockRecord]:
        """From the start: every item's inventory, by item. Since a time: the item ledger entries posted at
        or after it, by entry number, and the current inventory of the items they moved (a product moved
        twice may come on two pages; the engine's upsert makes that harmless)."""
        if cursor.since is None:
            rows, link = read_page(self.client, "items", cursor.after, limit)
            return link_page(self.stock_records(rows, {}), link)
        entries, link = read_page(
            self.client, query("itemLedgerEntries", since_filter(cursor.since)), cursor.after, limit
        )
        stamps: dict[str, datetime] = {}
        for entry in entries:
            at = parse_time(entry["lastModifiedDateTime"])
            stamps[entry["itemNumber"]] = max(at, stamps.get(entry["itemNumber"], at))
        answers = self.client.batch(
            [("GET", query("items", f"number eq {odata_text(number)}"), None) for number in stamps]
        )
        rows = []
        for answer in answers:
            if not answer.ok():
                raise ErpTransientError(
                    f"Business Central could not read an item's stock: {batch_error(answer)}"
                )
            rows += answer.body["value"]  # an item deleted since has no row: nothing to report
        return link_page(self.stock_records(rows, stamps), link)

    # -- reconciliation ------------------------------------------------------------------------------------
    @staticmethod
    def reconcile_product(record: ProductRecord) -> ReconcileRecord:
        return product_reconcile_record(record)

    @staticmethod
    def reconcile_stock_record(record: StockRecord, row: dict[str, Any]) -> ReconcileRecord:
        return stock_reconcile_record(record, active=not row.get("blocked"))

    def reconcile_products(self, after: str, limit: int) -> Page[ReconcileRecord]:
        rows, link = read_page(self.client, "items", after, limit)
        return link_page([self.reconcile_product(record) for record in self.records(rows)], link)

    def reconcile_stock(self, after: str, limit: int) -> Page[ReconcileRecord]:
        rows, link = read_page(self.client, "items", after, limit)
        return link_page(
            [
                self.reconcile_stock_record(record, row)
                for record, row in zip(self.stock_records(rows, {}), rows, strict=True)
            ],
            link,
        )

    def reconcile_one(self, entity: str, key: str) -> ReconcileRecord | None:
        rows = self.client.request("GET", query("items", f"id eq {key}"))["value"]
        if not rows:
            return None
        if entity == "products":
            return self.reconcile_product(self.records(rows)[0])
        return self.reconcile_stock_record(self.stock_records(rows, {})[0], rows[0])
