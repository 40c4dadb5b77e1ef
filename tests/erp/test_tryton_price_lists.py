"""Price list pushes against a real Tryton 8.2: prices as the ERP computes them, re-push, sales."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.erp.connectors.base import ErpBusinessError, PriceListLine, PriceListPush, price_list_marker
from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.connectors.tryton.client import TrytonClient

KEY = "portal-company-7"
TODAY = date.today()  # noqa: DTZ011 - only a base for windows far from the ERP's today
WINDOW = (TODAY + timedelta(days=30), TODAY + timedelta(days=60))
DISCOUNT = Decimal("0.15")


def _product(client: TrytonClient, sku: str) -> dict[str, Any]:
    (row,) = client.model(
        "product.product", "search_read", [["code", "=", sku]], 0, 1, None, ["list_price_used", "sale_uom"]
    )
    return row


def _party(client: TrytonClient, code: str) -> dict[str, Any]:
    (row,) = client.model(
        "party.party",
        "search_read",
        [["code", "=", code]],
        0,
        1,
        None,
        ["sale_price_list", "addresses", "customer_payment_term", "write_date"],
    )
    return row


def _erp_price(
    client: TrytonClient,
    price_list: int,
    party: int | None,
    product: int,
    quantity: float,
    on: date | None = None,
) -> Decimal | None:
    """The unit price the ERP computes with the price list (``date`` in the context; None: today)."""
    context: dict[str, Any] = {"price_list": price_list, "quantity": quantity}
    if party is not None:
        context["customer"] = party
    if on is not None:
        context["date"] = on
    (row,) = client.model("product.product", "read", [product], ["sale_price_uom"], context=context)
    return row["sale_price_uom"]


def _discounted(list_price: Decimal) -> Decimal:
    return (list_price * (1 - DISCOUNT)).quantize(Decimal("0.0001"))  # Tryton's round_price


def _lines(tiered: dict[str, Any], promo: dict[str, Any], base: str = "10.0000") -> list[PriceListLine]:
    """Quantity breaks for ``tiered`` (largest first: the first match wins), a dated fixed price for
    ``promo`` and a catch-all discount."""
    return [
        PriceListLine(str(tiered["id"]), Decimal(50), unit_price=Decimal("8.7500")),
        PriceListLine(str(tiered["id"]), Decimal(10), unit_price=Decimal("9.5000")),
        PriceListLine(str(tiered["id"]), Decimal(1), unit_price=Decimal(base)),
        PriceListLine(
            str(promo["id"]), Decimal(1), unit_price=Decimal("7.2500"), start=WINDOW[0], end=WINDOW[1]
        ),
        PriceListLine(None, Decimal(0), discount=DISCOUNT),
    ]


def _price_lists_named(admin: TrytonClient, key: str) -> list[dict[str, Any]]:
    rows = admin.model(
        "product.price_list",
        "search_read",
        [["name", "like", f"%{price_list_marker(key)}"]],
        0,
        None,
        None,
        ["name", "lines"],
        context={"active_test": False},
    )
    return [row for row in rows if row["name"].endswith(price_list_marker(key))]


def test_pushed_price_list_gives_breaks_dated_prices_and_discount(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    tiered, promo, other = (_product(erp_admin, sku) for sku in ("SKU-00003", "SKU-00004", "SKU-00005"))
    party = _party(erp_admin, "CUST-001")
    assert party["sale_price_list"] is None

    (result,) = connector.push_price_lists(
        [PriceListPush(KEY, "Acme Hardware Co. (Gold)", _lines(tiered, promo), [str(party["id"])])]
    )

    assert result.key == KEY
    assert result.created is True
    price_list = int(result.erp_id)
    (stored,) = _price_lists_named(erp_admin, KEY)
    assert stored["id"] == price_list
    assert stored["name"] == f"Acme Hardware Co. (Gold) [{KEY}]"
    assert _party(erp_admin, "CUST-001")["sale_price_list"] == price_list

    def price(product: dict[str, Any], quantity: float, on: date | None = None) -> Decimal | None:
        return _erp_price(connector.client, price_list, party["id"], product["id"], quantity, on)

    # quantity breaks: the line matches from its minimum quantity on
    for quantity, expected in (
        (1, "10.0000"),
        (9, "10.0000"),
        (10, "9.5000"),
        (49, "9.5000"),
        (50, "8.7500"),
    ):
        assert price(tiered, quantity) == Decimal(expected), quantity
    assert price(tiered, 500, WINDOW[0]) == Decimal("8.7500")  # the window is the other product's
    # the dated fixed price: inclusive on both ends, the catch-all discount outside
    promo_discounted = _discounted(promo["list_price_used"])
    assert price(promo, 1) == promo_discounted  # no date: the ERP's today
    assert price(promo, 1, WINDOW[0] - timedelta(days=1)) == promo_discounted
    assert price(promo, 1, WINDOW[0]) == Decimal("7.2500")
    assert price(promo, 20, WINDOW[1]) == Decimal("7.2500")
    assert price(promo, 1, WINDOW[1] + timedelta(days=1)) == promo_discounted
    # any other product: the list price less 15 %
    assert price(other, 3) == _discounted(other["list_price_used"])
    assert price(other, 3) != other["list_price_used"]


def test_repush_replaces_lines_and_reassigns_customers(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    tiered, promo = (_product(erp_admin, sku) for sku in ("SKU-00003", "SKU-00004"))
    acme, globex = (_party(erp_admin, code) for code in ("CUST-001", "CUST-002"))
    (first,) = connector.push_price_lists(
        [PriceListPush(KEY, "Gold", _lines(tiered, promo), [str(acme["id"]), str(globex["id"])])]
    )
    assert _party(erp_admin, "CUST-002")["sale_price_list"] == int(first.erp_id)
    acme_stamp = _party(erp_admin, "CUST-001")["write_date"]

    new_lines = _lines(tiered, promo, base="11.2500")[2:]  # no more breaks, a new base price
    (again,) = connector.push_price_lists([PriceListPush(KEY, "Platinum", new_lines, [str(acme["id"])])])

    assert again.created is False
    assert again.erp_id == first.erp_id
    (stored,) = _price_lists_named(erp_admin, KEY)  # still one list
    assert stored["name"] == f"Platinum [{KEY}]"
    assert len(stored["lines"]) == len(new_lines)
    lines = erp_admin.model(
        "product.price_list.line", "read", stored["lines"], ["sequence", "quantity", "formula"]
    )
    assert [line["formula"] for line in sorted(lines, key=lambda line: line["sequence"])] == [
        'Decimal("11.2500")',
        'Decimal("7.2500")',
        'unit_price * Decimal("0.85")',
    ]
    price_list = int(again.erp_id)
    for quantity in (1, 10, 50):
        assert _erp_price(connector.client, price_list, acme["id"], tiered["id"], quantity) == Decimal(
            "11.2500"
        )
    assert _party(erp_admin, "CUST-001")["sale_price_list"] == price_list
    assert _party(erp_admin, "CUST-001")["write_date"] == acme_stamp  # already assigned: not written
    assert _party(erp_admin, "CUST-002")["sale_price_list"] is None  # no longer listed: unassigned

    # The same push a third time changes nothing.
    (third,) = connector.push_price_lists([PriceListPush(KEY, "Platinum", new_lines, [str(acme["id"])])])
    assert (third.erp_id, third.created) == (again.erp_id, False)
    assert len(_price_lists_named(erp_admin, KEY)[0]["lines"]) == len(new_lines)


def test_keys_do_not_collide_and_inactive_lists_are_found(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    line = [PriceListLine(None, Decimal(0), discount=Decimal("0.05"))]
    one, twelve, wild = connector.push_price_lists(
        [
            PriceListPush("portal-company-1", "One", line, []),
            PriceListPush("portal-company-12", "Twelve", line, []),
            PriceListPush("portal_company%1", "Wildcards", line, []),
        ]
    )
    assert len({one.erp_id, twelve.erp_id, wild.erp_id}) == 3
    erp_admin.model("product.price_list", "write", [int(one.erp_id)], {"active": False})

    again = connector.push_price_lists(
        [
            PriceListPush("portal-company-1", "One", line, []),
            PriceListPush("portal_company%1", "Wildcards", line, []),
        ]
    )

    assert [(r.erp_id, r.created) for r in again] == [(one.erp_id, False), (wild.erp_id, False)]
    (row,) = erp_admin.model("product.price_list", "read", [int(one.erp_id)], ["active"])
    assert row["active"]  # reactivated (SQLite answers 1)


def test_sale_with_the_pushed_price_list_uses_its_prices(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    tiered, promo = (_product(erp_admin, sku) for sku in ("SKU-00003", "SKU-00004"))
    party = _party(erp_admin, "CUST-001")
    (result,) = connector.push_price_lists(
        [PriceListPush(KEY, "Gold", _lines(tiered, promo), [str(party["id"])])]
    )
    price_list = int(result.erp_id)
    client = connector.client
    unit_price = _erp_price(client, price_list, party["id"], tiered["id"], 10)
    assert unit_price == Decimal("9.5000")

    (sale_id,) = client.model(
        "sale.sale",
        "create",
        [
            {
                "party": party["id"],
                "invoice_address": party["addresses"][0],
                "shipment_address": party["addresses"][0],
                "payment_term": party["customer_payment_term"],
                "price_list": price_list,
                "reference": "PO-PRICE-LIST",
                "lines": [
                    [
                        "create",
                        [
                            {
                                "type": "line",
                                "product": tiered["id"],
                                "quantity": 10,
                                "unit": tiered["sale_uom"],
                                "unit_price": unit_price,
                            }
                        ],
                    ]
                ],
            }
        ],
    )
    client.model("sale.sale", "quote", [sale_id])

    (sale,) = client.model("sale.sale", "read", [sale_id], ["lines", "price_list", "state"])
    assert (sale["price_list"], sale["state"]) == (price_list, "quotation")
    (line,) = client.model("sale.line", "read", sale["lines"], ["unit_price", "amount"])
    assert line["unit_price"] == Decimal("9.5000")
    assert line["amount"] == Decimal("95.00")

    # The ERP's own line pricing (what its client runs on product/quantity changes) takes the sale's
    # price list and its sale date.
    def line_price(product: dict[str, Any], quantity: float, sale_date: date | None) -> Decimal:
        values = {
            "type": "line",
            "product": product["id"],
            "quantity": quantity,
            "unit": product["sale_uom"],
            "taxes": [],
            "company": client.context["company"],
            "sale": sale_id,
            "_parent_sale.price_list": price_list,
            "_parent_sale.party": party["id"],
            "_parent_sale.invoice_party": None,
            "_parent_sale.currency": client.context.get("currency") or 1,
            "_parent_sale.sale_date": sale_date,
        }
        return client.model("sale.line", "on_change", values, ["quantity"])["unit_price"]

    assert line_price(tiered, 50, None) == Decimal("8.7500")
    assert line_price(promo, 1, WINDOW[0]) == Decimal("7.2500")
    assert line_price(promo, 1, WINDOW[1] + timedelta(days=1)) == _discounted(promo["list_price_used"])


def test_two_thousand_lines_go_in_one_call(connector: TrytonConnector, erp_admin: TrytonClient) -> None:
    products = erp_admin.model(
        "product.product", "search_read", [["code", "like", "SKU-%"]], 0, 1000, [["code", "ASC"]], ["code"]
    )
    lines = [
        PriceListLine(
            str(product["id"]), Decimal(quantity), unit_price=Decimal(f"{n % 97 + 1}.{quantity:02d}00")
        )
        for n, product in enumerate(products)
        for quantity in (10, 1)
    ]
    assert len(lines) == 2000
    calls: list[str] = []
    model = connector.client.model

    def counting(name: str, method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(f"{name}.{method}")
        return model(name, method, *args, **kwargs)

    connector.client.model = counting  # type: ignore[method-assign]
    (created,) = connector.push_price_lists([PriceListPush(KEY, "Big", lines, [])])
    (replaced,) = connector.push_price_lists([PriceListPush(KEY, "Big", lines[::-1], [])])

    assert calls.count("product.price_list.create") == 1
    assert calls.count("product.price_list.write") == 1
    assert not any(call.startswith("product.price_list.line") for call in calls)
    assert (created.created, replaced.created, replaced.erp_id) == (True, False, created.erp_id)
    (stored,) = _price_lists_named(erp_admin, KEY)
    assert len(stored["lines"]) == 2000
    first = products[0]["id"]
    # reversed: the quantity-1 line now comes before the quantity-10 line, so it wins for 10 too
    assert _erp_price(connector.client, int(created.erp_id), None, first, 10) == Decimal("1.0100")


def test_invalid_line_is_refused_before_anything_is_sent(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    bad = PriceListLine(None, Decimal(0), unit_price=Decimal("1"), discount=Decimal("0.1"))
    with pytest.raises(ErpBusinessError, match="exactly one"):
        connector.push_price_lists([PriceListPush(KEY, "Bad", [bad], [])])
    assert _price_lists_named(erp_admin, KEY) == []


def test_erp_refusal_surfaces_as_business_error(connector: TrytonConnector, erp_admin: TrytonClient) -> None:
    dated = PriceListLine(None, Decimal(0), discount=DISCOUNT, start=WINDOW[1], end=WINDOW[0])  # end < start
    with pytest.raises(ErpBusinessError):
        connector.push_price_lists([PriceListPush(KEY, "Backwards", [dated], [])])
    assert _price_lists_named(erp_admin, KEY) == []
