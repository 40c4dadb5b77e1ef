"""The Tryton reconciliation reads' cost: a fixed number of ERP calls per page, never one per record."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from apps.erp.connectors.base import (
    AddressRecord,
    OrderLinePush,
    OrderPush,
    Page,
    PriceListLine,
    PriceListPush,
    ReconcileRecord,
)
from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.connectors.tryton.client import TrytonClient

# (read, page size, the model of its one search_read a page, at most this many other calls a page)
READS: dict[
    str, tuple[Callable[[TrytonConnector], Callable[[int, int], Page[ReconcileRecord]]], int, str, int]
] = {
    "customers": (lambda c: c.reconcile_customers, 3, "party.party", 2),  # addresses, payment terms
    "products": (lambda c: c.reconcile_products, 500, "product.product", 1),  # new category names
    "stock": (lambda c: c.reconcile_stock, 500, "product.product", 0),
    "price_lists": (lambda c: c.reconcile_price_lists, 2, "product.price_list", 1),  # their parties
    "orders": (lambda c: c.reconcile_orders, 2, "sale.sale", 0),
    "invoices": (lambda c: c.reconcile_invoices, 2, "account.invoice", 0),
}


def _party_ids(client: TrytonClient) -> list[tuple[int, int]]:
    rows = client.model(
        "party.party", "search_read", [["code", "like", "CUST-%"]], 0, 3, [["id", "ASC"]], ["addresses"]
    )
    return [(row["id"], row["addresses"][0]) for row in rows]


@pytest.mark.parametrize("entity", list(READS))
def test_each_page_is_one_search_read_and_a_fixed_number_of_batched_reads(
    connector: TrytonConnector, erp_admin: TrytonClient, entity: str
) -> None:
    parties = _party_ids(erp_admin)
    (product,) = erp_admin.model("product.product", "search", [["code", "=", "SKU-00001"]], 0, 1, None)
    if entity in ("orders", "invoices"):
        results = connector.push_orders(
            [
                OrderPush(
                    reference=f"PO-COST-{n}",
                    customer_erp_id=str(parties[n % 3][0]),
                    ship_to=AddressRecord(str(parties[n % 3][1]), "", "", "", "", "US"),
                    lines=[OrderLinePush(str(product), Decimal("1"), Decimal("2.5"))] * 2,
                )
                for n in range(5)
            ]
        )
        assert all(not result.error for result in results)
    if entity == "price_lists":
        connector.push_price_lists(
            [
                PriceListPush(
                    key=f"portal-company-{n}",
                    name="Cost",
                    lines=[PriceListLine(str(product), Decimal("1"), unit_price=Decimal("2"))] * 3,
                    customer_erp_ids=[str(parties[n % 3][0])],
                )
                for n in range(5)
            ]
        )
    read, limit, model, others = READS[entity]
    connector.products._storage()  # the warehouse's storage location, read once per connector
    calls: list[str] = []
    call = connector.client.call

    def counted(method: str, *params: Any) -> Any:
        calls.append(method)
        return call(method, *params)

    connector.client.call = counted  # type: ignore[method-assign]
    pages = [read(connector)("", limit)]
    while pages[-1].has_more:
        pages.append(read(connector)(pages[-1].next, limit))
    connector.client.call = call  # type: ignore[method-assign]

    records = sum(len(page.records) for page in pages)
    assert records > 2 * limit  # several pages
    counts = Counter(calls)
    assert counts.pop(f"model.{model}.search_read") == len(pages)
    assert sum(counts.values()) <= others * len(pages), calls
