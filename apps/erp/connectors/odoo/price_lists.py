"""Price lists: the portal's tiers and contracts as ``product.pricelist`` records, replaced whole, and
assigned to their customers (``res.partner.property_product_pricelist``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from apps.erp.connectors.base import (
    PORTAL_KEY_PREFIX,
    ErpBusinessError,
    Page,
    PriceListLine,
    PriceListPush,
    PriceListResult,
    ReconcileRecord,
    price_list_key,
    price_list_marker,
    reconcile_price_list_lines,
)
from apps.erp.connectors.odoo.client import OdooClient
from apps.erp.connectors.odoo.common import EVERY, EVERY_ACTIVE_STATE, after_id, decimal, id_page, many2one

ITEM_FIELDS = [
    "pricelist_id",
    "product_id",
    "min_quantity",
    "compute_price",
    "fixed_price",
    "percent_price",
    "date_start",
    "date_end",
]


class OdooPriceLists:
    def __init__(self, client: OdooClient) -> None:
        self.client = client

    def push_price_lists(self, price_lists: Sequence[PriceListPush]) -> list[PriceListResult]:
        """Create or replace each price list and assign it to exactly its customers.

        Idempotency key: a pushed ``product.pricelist`` is named ``"<name> [<key>]"`` and found again by
        ``name ilike "[<key>]"`` (archived lists too), keeping the names that end with exactly the marker;
        the lowest id wins. Missing: one ``create`` with every item. Found: one ``write`` that deletes its
        items and creates the new ones (one transaction), sets the name and reactivates it.

        Items: ``applied_on`` "0_product_variant" with ``product_id`` (or "3_global"), ``min_quantity``,
        ``compute_price`` "fixed" (``fixed_price``) or "percentage" (``percent_price`` = discount x 100),
        ``date_start``/``date_end`` as the day's first/last second. Odoo evaluates a list's items in its
        own order (variant items before global ones, then higher minimum quantities first), not in the
        order given; the portal's lists (product breaks before a global discount) read the same either way.

        Then ``property_product_pricelist`` is set on the listed customers that do not have it and cleared
        on those that have it but are no longer listed (two calls at most; after a failure between the
        list and the customers, a retry converges)."""
        all_items = [[_item(line) for line in push.lines] for push in price_lists]  # checked before any call
        results = []
        for push, items in zip(price_lists, all_items, strict=True):
            marker = price_list_marker(push.key)
            name = f"{push.name} {marker}" if push.name else marker
            existing = self._find(marker)
            if existing is None:
                (list_id,) = self.client.call(
                    "product.pricelist",
                    "create",
                    vals_list=[{"name": name, "item_ids": [[0, 0, item] for item in items]}],
                )
                created = True
            else:
                list_id = existing["id"]
                commands: list[Any] = [[2, item_id] for item_id in existing["item_ids"]]
                commands += [[0, 0, item] for item in items]
                self.client.call(
                    "product.pricelist",
                    "write",
                    ids=[list_id],
                    vals={"name": name, "active": True, "item_ids": commands},
                    context=EVERY,
                )
                created = False
            self._assign(list_id, [int(customer) for customer in push.customer_erp_ids], created)
            results.append(PriceListResult(key=push.key, erp_id=str(list_id), created=created))
        return results

    def _find(self, marker: str) -> dict[str, Any] | None:
        rows = self.client.call(
            "product.pricelist",
            "search_read",
            domain=[["name", "ilike", marker]],
            fields=["name", "item_ids", "active"],
            order="id asc",
            context=EVERY,
        )
        matching = [row for row in rows if str(row["name"] or "").endswith(marker)]
        return matching[0] if matching else None

    def _assign(self, list_id: int, customer_ids: list[int], created: bool) -> None:
        wanted = list(dict.fromkeys(customer_ids))
        holders: list[int] = []
        if not created:
            holders = self.client.call(
                "res.partner", "search", domain=[["property_product_pricelist", "=", list_id]], context=EVERY
            )
        current = (
            self.client.call(
                "res.partner", "read", ids=wanted, fields=["property_product_pricelist"], context=EVERY
            )
            if wanted
            else []
        )
        assign = [row["id"] for row in current if many2one(row["property_product_pricelist"]) != list_id]
        unassign = sorted(set(holders) - set(wanted))
        if assign:
            self.client.call(
                "res.partner",
                "write",
                ids=assign,
                vals={"property_product_pricelist": list_id},
                context=EVERY,
            )
        if unassign:
            self.client.call(
                "res.partner",
                "write",
                ids=unassign,
                vals={"property_product_pricelist": False},
                context=EVERY,
            )

    def reconcile_price_lists(
        self, after: str, limit: int, ids: list[int] | None = None
    ) -> Page[ReconcileRecord]:
        """The portal's price lists (a marker holding a portal key), archived ones included, by id: one
        ``search_read`` of the lists, one of their items (in creation order: the pushed order), one of
        their holders. ``lines`` read back as the pushed ``PriceListLine``; ``customers``: the holders."""
        domain: list[Any] = [
            ["id", ">", after_id(after)],
            ["name", "=like", f"%[{PORTAL_KEY_PREFIX}%]"],
            EVERY_ACTIVE_STATE,
        ]
        if ids is not None:
            domain.append(["id", "in", ids])
        rows = self.client.call(
            "product.pricelist",
            "search_read",
            domain=domain,
            fields=["name", "active"],
            limit=limit or None,
            order="id asc",
        )
        keyed = [(row, key) for row in rows if (key := price_list_key(str(row["name"] or ""))) is not None]
        list_ids = [row["id"] for row, _ in keyed]
        items: dict[int, list[dict[str, Any]]] = {}
        holders: dict[int, list[int]] = {}
        if list_ids:
            for item in self.client.call(
                "product.pricelist.item",
                "search_read",
                domain=[["pricelist_id", "in", list_ids]],
                fields=ITEM_FIELDS,
                order="id asc",
                context=EVERY,
            ):
                items.setdefault(many2one(item["pricelist_id"]) or 0, []).append(item)
            for partner in self.client.call(
                "res.partner",
                "search_read",
                domain=[["property_product_pricelist", "in", list_ids], EVERY_ACTIVE_STATE],
                fields=["property_product_pricelist"],
                order="id asc",
            ):
                holders.setdefault(many2one(partner["property_product_pricelist"]) or 0, []).append(
                    partner["id"]
                )
        records = [
            ReconcileRecord(
                key=str(row["id"]),
                fields={
                    "lines": reconcile_price_list_lines(
                        [_pushed_line(item) for item in items.get(row["id"], [])]
                    ),
                    "customers": ",".join(str(partner) for partner in sorted(holders.get(row["id"], []))),
                },
                active=bool(row["active"]),
                reference=key,
            )
            for row, key in keyed
        ]
        return id_page(records, rows, after, limit)


def _item(line: PriceListLine) -> dict[str, Any]:
    if (line.unit_price is None) == (line.discount is None):
        raise ErpBusinessError(
            f"A price list line for product {line.product_erp_id or 'any'} must have exactly one of "
            "a unit price and a discount."
        )
    for value in (line.unit_price, line.discount, line.min_quantity):
        if value is not None and not value.is_finite():
            raise ErpBusinessError(f"A price list line has a non-finite number ({value}).")
    item: dict[str, Any] = {
        "applied_on": "0_product_variant" if line.product_erp_id else "3_global",
        "min_quantity": line.min_quantity,
        "date_start": f"{line.start.isoformat()} 00:00:00" if line.start else False,
        "date_end": f"{line.end.isoformat()} 23:59:59" if line.end else False,
    }
    if line.product_erp_id:
        item["product_id"] = int(line.product_erp_id)
    if line.unit_price is not None:
        item.update(compute_price="fixed", fixed_price=line.unit_price)
    else:
        assert line.discount is not None  # noqa: S101 - exactly one is set (checked above)
        item.update(compute_price="percentage", percent_price=line.discount * 100)
    return item


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def _pushed_line(item: dict[str, Any]) -> PriceListLine:
    """An item read from Odoo as the ``PriceListLine`` pushed to make it (a formula item a person made
    reads as neither a price nor a discount, so it differs from every pushed line)."""
    unit_price = discount = None
    if item["compute_price"] == "fixed":
        unit_price = decimal(item["fixed_price"])
    elif item["compute_price"] == "percentage":
        discount = decimal(item["percent_price"]) / 100
    product = many2one(item["product_id"])
    return PriceListLine(
        product_erp_id=str(product) if product else None,
        min_quantity=Decimal(decimal(item["min_quantity"])),
        unit_price=unit_price,
        discount=discount,
        start=_day(item["date_start"]),
        end=_day(item["date_end"]),
    )
