"""Order pushes and order-state pulls against a real Tryton 8.2: exactly once, frozen prices, credit."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.erp.connectors.base import (
    AddressRecord,
    Cursor,
    ErpTransientError,
    OrderLinePush,
    OrderPush,
)
from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.models import ErpConnection
from tools.tryton import erp

TODAY = date.today()  # noqa: DTZ011 - the ERP runs in UTC on this machine; only compared loosely


def _party(client: TrytonClient, code: str) -> dict[str, Any]:
    (row,) = client.model(
        "party.party",
        "search_read",
        [["code", "=", code]],
        0,
        1,
        None,
        ["addresses", "customer_payment_term", "credit_amount", "credit_limit_amount"],
    )
    return row


def _products(client: TrytonClient, *skus: str) -> list[dict[str, Any]]:
    rows = client.model(
        "product.product",
        "search_read",
        [["code", "in", list(skus)]],
        0,
        None,
        [["code", "ASC"]],
        ["code", "list_price_used", "sale_uom"],
    )
    assert [row["code"] for row in rows] == sorted(skus)
    return rows


def _address(erp_id: int | str, street: str = "", postal_code: str = "", city: str = "") -> AddressRecord:
    return AddressRecord(str(erp_id), street, city, postal_code, "", "US")


def _order(
    reference: str,
    party: dict[str, Any],
    ship_to: AddressRecord,
    lines: list[tuple[dict[str, Any], str, str]],
    **kwargs: Any,
) -> OrderPush:
    return OrderPush(
        reference=reference,
        customer_erp_id=str(party["id"]),
        ship_to=ship_to,
        lines=[
            OrderLinePush(str(product["id"]), Decimal(quantity), Decimal(price), note=f"note {n}")
            for n, (product, quantity, price) in enumerate(lines, 1)
        ],
        **kwargs,
    )


def _sales(client: TrytonClient, reference: str, party: dict[str, Any]) -> list[dict[str, Any]]:
    return client.model(
        "sale.sale",
        "search_read",
        [["reference", "=", reference], ["party", "=", party["id"]]],
        0,
        None,
        None,
        [
            "state",
            "number",
            "lines",
            "shipment_address",
            "invoice_address",
            "payment_term",
            "sale_date",
            "shipping_date",
            "comment",
            "shipments",
            "invoices",
        ],
    )


def _lines(client: TrytonClient, sale: dict[str, Any]) -> list[dict[str, Any]]:
    rows = client.model(
        "sale.line", "read", sale["lines"], ["product", "quantity", "unit", "unit_price", "note"]
    )
    return sorted(rows, key=lambda row: row["id"])


@pytest.fixture
def calls(connector: TrytonConnector, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the connector's ERP calls by ``model.method``."""
    counter: Counter[str] = Counter()
    model = connector.client.model

    def counting(name: str, method: str, *args: Any, **kwargs: Any) -> Any:
        counter[f"{name}.{method}"] += 1
        return model(name, method, *args, **kwargs)

    monkeypatch.setattr(connector.client, "model", counting)
    return counter


@pytest.fixture
def finance_connector(erp_connection: ErpConnection, erp_server: erp.ErpServer) -> Iterator[TrytonConnector]:
    active = TrytonConnector.for_connection(
        erp_connection, finance_username=erp.ERP_FINANCE_USER, finance_password=erp_server.password
    )
    yield active
    active.close()


def test_orders_become_confirmed_sales_once_with_frozen_prices(
    connector: TrytonConnector, erp_admin: TrytonClient, calls: Counter[str]
) -> None:
    acme, globex = _party(erp_admin, "CUST-001"), _party(erp_admin, "CUST-002")
    screw, pipe, valve = _products(erp_admin, "SKU-00001", "SKU-00002", "SKU-00003")
    requested = TODAY + timedelta(days=10)
    orders = [
        _order(
            "PO-1001",
            acme,
            _address(acme["addresses"][1]),  # the second (non-invoice) address
            [(screw, "100", "0.1299"), (pipe, "12.5", "11.8765")],
            requested_date=requested,
            notes="Dock 4, call ahead.\nNo pallets over 1 m.",
        ),
        _order("PO-1002", acme, _address(acme["addresses"][0]), [(valve, "3", "4.5000")]),
        _order("PO-2001", globex, _address(globex["addresses"][0]), [(pipe, "40", "10.0001")]),
    ]
    for order in orders:
        for line in order.lines:
            product = next(p for p in (screw, pipe, valve) if str(p["id"]) == line.product_erp_id)
            assert line.unit_price != product["list_price_used"]

    results = connector.push_orders(orders)

    assert [(r.reference, r.customer_erp_id, r.created, r.state, r.error) for r in results] == [
        ("PO-1001", str(acme["id"]), True, "processing", ""),
        ("PO-1002", str(acme["id"]), True, "processing", ""),
        ("PO-2001", str(globex["id"]), True, "processing", ""),
    ]
    assert all(r.number and r.erp_id for r in results)
    # One lookup, one create, one quote; acme's two orders fit its credit together: one confirm.
    assert calls["sale.sale.search_read"] == 1
    assert calls["sale.sale.create"] == 1
    assert calls["sale.sale.quote"] == 1
    assert calls["sale.sale.confirm"] == 1
    assert calls["party.address.create"] == 0

    for order, result in zip(orders, results, strict=True):
        party = acme if order.customer_erp_id == str(acme["id"]) else globex
        (sale,) = _sales(erp_admin, order.reference, party)
        assert str(sale["id"]) == result.erp_id
        assert sale["number"] == result.number
        assert sale["state"] == "processing"
        assert sale["shipment_address"] == int(order.ship_to.erp_id)
        assert sale["invoice_address"] == party["addresses"][0]  # the seeded invoice address
        assert sale["payment_term"] == party["customer_payment_term"]
        assert sale["sale_date"] == TODAY
        assert len(sale["shipments"]) == 1
        assert len(sale["invoices"]) == 1
        lines = _lines(erp_admin, sale)
        assert [(str(line["product"]), line["unit_price"], line["note"]) for line in lines] == [
            (line.product_erp_id, line.unit_price, line.note) for line in order.lines
        ]
        assert [Decimal(str(line["quantity"])) for line in lines] == [line.quantity for line in order.lines]
        assert all(type(line["unit_price"]) is Decimal for line in lines)
    (first,) = _sales(erp_admin, "PO-1001", acme)
    assert first["shipping_date"] == requested
    assert first["comment"] == "Dock 4, call ahead.\nNo pallets over 1 m."
    (invoice_line,) = erp_admin.model(
        "account.invoice.line",
        "search_read",
        [["invoice", "in", first["invoices"]], ["product", "=", pipe["id"]]],
        0,
        None,
        None,
        ["unit_price", "quantity"],
    )
    assert invoice_line["unit_price"] == Decimal("11.8765")  # the ERP invoices the frozen price

    calls.clear()
    again = connector.push_orders(orders)

    assert [(r.erp_id, r.number, r.created, r.state, r.error) for r in again] == [
        (r.erp_id, r.number, False, "processing", "") for r in results
    ]
    assert calls["sale.sale.create"] == calls["sale.sale.quote"] == calls["sale.sale.confirm"] == 0
    for order in orders:
        party = acme if order.customer_erp_id == str(acme["id"]) else globex
        assert len(_sales(erp_admin, order.reference, party)) == 1
    # the same reference for another customer is another order
    (other,) = connector.push_orders(
        [_order("PO-1001", globex, _address(globex["addresses"][0]), [(screw, "1", "0.2000")])]
    )
    assert other.created
    assert other.erp_id != results[0].erp_id


def test_an_interrupted_push_is_finished_by_the_retry(
    connector: TrytonConnector, erp_admin: TrytonClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = _party(erp_admin, "CUST-001")
    (screw,) = _products(erp_admin, "SKU-00001")
    order = _order("PO-RETRY", acme, _address(acme["addresses"][0]), [(screw, "10", "0.1300")])
    model = connector.client.model

    def timing_out_on_quote(name: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "quote":
            raise ErpTransientError("The ERP did not answer in time.")
        return model(name, method, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(connector.client, "model", timing_out_on_quote)
        with pytest.raises(ErpTransientError):
            connector.push_orders([order])
    (draft,) = _sales(erp_admin, "PO-RETRY", acme)
    assert draft["state"] == "draft"

    (result,) = connector.push_orders([order])

    assert (result.erp_id, result.created, result.state, result.error) == (
        str(draft["id"]),
        False,
        "processing",
        "",
    )
    assert len(_sales(erp_admin, "PO-RETRY", acme)) == 1


def test_portal_made_ship_to_is_created_once_or_reused(
    connector: TrytonConnector, erp_admin: TrytonClient, calls: Counter[str]
) -> None:
    globex = _party(erp_admin, "CUST-002")
    (screw,) = _products(erp_admin, "SKU-00001")
    new = AddressRecord("", "17 Riverside Dr", "Dublin", "43017", "OH", "US")
    new_spelled_otherwise = AddressRecord("", " 17  riverside dr ", "DUBLIN", "43017", "OH", "US")
    seeded = AddressRecord("", "88 Commerce Park Dr", "Columbus", "43219", "OH", "US")  # the ERP has it
    line = [(screw, "5", "0.1300")]

    results = connector.push_orders(
        [
            _order("PO-A", globex, new, line),
            _order("PO-B", globex, new_spelled_otherwise, line),
            _order("PO-C", globex, seeded, line),
        ]
    )

    assert [(r.state, r.error) for r in results] == [("processing", "")] * 3
    assert calls["party.address.create"] == 1
    addresses = _party(erp_admin, "CUST-002")["addresses"]
    assert len(addresses) == len(globex["addresses"]) + 1
    (created,) = set(addresses) - set(globex["addresses"])
    (row,) = erp_admin.model(
        "party.address", "read", [created], ["party", "street", "postal_code", "city", "country.code"]
    )
    assert (row["party"], row["street"], row["postal_code"], row["city"], row["country."]["code"]) == (
        globex["id"],
        "17 Riverside Dr",
        "43017",
        "Dublin",
        "US",
    )
    shipment = {
        ref: _sales(erp_admin, ref, globex)[0]["shipment_address"] for ref in ("PO-A", "PO-B", "PO-C")
    }
    assert shipment == {"PO-A": created, "PO-B": created, "PO-C": globex["addresses"][0]}

    # A later order to the same place reuses the address; so does an ERP id of another customer's address.
    acme = _party(erp_admin, "CUST-001")
    foreign = AddressRecord(str(acme["addresses"][0]), "17 Riverside Dr", "Dublin", "43017", "OH", "US")
    later = connector.push_orders([_order("PO-D", globex, new, line), _order("PO-E", globex, foreign, line)])

    assert [(r.state, r.error) for r in later] == [("processing", "")] * 2
    assert _party(erp_admin, "CUST-002")["addresses"] == addresses
    assert _sales(erp_admin, "PO-D", globex)[0]["shipment_address"] == created
    assert _sales(erp_admin, "PO-E", globex)[0]["shipment_address"] == created


def _big_order(reference: str, party: dict[str, Any], product: dict[str, Any], amount: int) -> OrderPush:
    quantity = Decimal(amount) / Decimal("10.0000")
    return _order(reference, party, _address(party["addresses"][0]), [(product, str(quantity), "10.0000")])


def test_credit_overrun_fails_that_order_only_until_finance_accepts_it(
    connector: TrytonConnector,
    finance_connector: TrytonConnector,
    erp_admin: TrytonClient,
) -> None:
    acme, globex, harbor = (_party(erp_admin, code) for code in ("CUST-001", "CUST-002", "CUST-003"))
    assert harbor["credit_limit_amount"] == Decimal("10000")
    (pipe,) = _products(erp_admin, "SKU-00002")
    big = _big_order("PO-BIG", harbor, pipe, 12_000)
    orders = [
        _big_order("PO-OK-1", acme, pipe, 500),
        big,
        _big_order("PO-OK-2", globex, pipe, 700),
    ]

    results = connector.push_orders(orders)

    ok1, refused, ok2 = results
    assert (ok1.state, ok1.error, ok2.state, ok2.error) == ("processing", "", "processing", "")
    assert (refused.created, refused.state) == (True, "quotation")
    assert refused.erp_id
    assert "credit limit" in refused.error
    assert "Harbor Point Builders Inc." in refused.error
    (sale,) = _sales(erp_admin, "PO-BIG", harbor)
    assert (sale["state"], sale["invoices"], sale["shipments"]) == ("quotation", [], [])

    # Finance releases the hold; without a finance user the portal user still gets the hard error.
    released = replace(big, accept_credit_warning=True)
    (still,) = connector.push_orders([released])
    assert (still.erp_id, still.created, still.state) == (refused.erp_id, False, "quotation")
    assert "credit limit" in still.error

    (accepted,) = finance_connector.push_orders([released])

    assert (accepted.erp_id, accepted.created, accepted.state, accepted.error) == (
        refused.erp_id,
        False,
        "processing",
        "",
    )
    assert len(_sales(erp_admin, "PO-BIG", harbor)) == 1
    assert _party(erp_admin, "CUST-003")["credit_amount"] == Decimal("12000.00")
    # the acceptance was for that sale only: it is used up
    assert erp_admin.model("res.user.warning", "search_read", [], 0, None, None, ["name"]) == []


def test_two_orders_cannot_pass_a_credit_limit_together(
    connector: TrytonConnector, finance_connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    """The ERP checks every sale of one confirm call against the credit before confirming any of them."""
    harbor = _party(erp_admin, "CUST-003")
    (pipe,) = _products(erp_admin, "SKU-00002")
    orders = [_big_order("PO-H1", harbor, pipe, 6_000), _big_order("PO-H2", harbor, pipe, 6_000)]

    first, second = connector.push_orders(orders)

    assert (first.state, first.error) == ("processing", "")
    assert second.state == "quotation"
    assert "credit limit" in second.error
    assert _party(erp_admin, "CUST-003")["credit_amount"] == Decimal("6000.00")

    # a finance user with the release confirms it; one without it does not
    (unreleased,) = finance_connector.push_orders([orders[1]])
    assert unreleased.state == "quotation"
    assert "credit limit" in unreleased.error


def test_unknown_customer_product_and_refused_sale_fail_alone(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    acme = _party(erp_admin, "CUST-001")
    (screw,) = _products(erp_admin, "SKU-00001")
    ship_to = _address(acme["addresses"][0])
    good = _order("PO-GOOD", acme, ship_to, [(screw, "2", "0.1300")])
    unknown_customer = OrderPush("PO-X1", "999999", ship_to, good.lines)
    unknown_product = OrderPush(
        "PO-X2", str(acme["id"]), ship_to, [OrderLinePush("999999", Decimal(1), Decimal(1))]
    )
    too_precise = _order("PO-X3", acme, ship_to, [(screw, "2", "0.123456")])  # the ERP keeps 4 decimals

    results = connector.push_orders([unknown_customer, good, unknown_product, too_precise])

    by_reference = {r.reference: r for r in results}
    assert (by_reference["PO-GOOD"].state, by_reference["PO-GOOD"].error) == ("processing", "")
    for reference in ("PO-X1", "PO-X2", "PO-X3"):
        result = by_reference[reference]
        assert (result.erp_id, result.state, result.created) == ("", "", False)
        assert result.error
    assert "999999" in by_reference["PO-X1"].error
    assert "999999" in by_reference["PO-X2"].error
    assert _sales(erp_admin, "PO-X3", acme) == []


def test_pull_orders_follows_shipments_and_invoices(
    connector: TrytonConnector, erp_admin: TrytonClient
) -> None:
    acme, globex = _party(erp_admin, "CUST-001"), _party(erp_admin, "CUST-002")
    screw, pipe = _products(erp_admin, "SKU-00001", "SKU-00002")
    pushed = connector.push_orders(
        [
            _order(
                "PO-P1",
                acme,
                _address(acme["addresses"][0]),
                [(screw, "3", "0.1300"), (pipe, "2", "12.0000")],
            ),
            _order("PO-P2", globex, _address(globex["addresses"][0]), [(screw, "4", "0.1400")]),
        ]
    )
    # a sale made in the ERP itself (no reference) is not the portal's
    erp_admin.model(
        "sale.sale",
        "create",
        [
            {
                "party": acme["id"],
                "invoice_address": acme["addresses"][0],
                "shipment_address": acme["addresses"][0],
            }
        ],
    )

    page = connector.pull_orders(Cursor(), 100)

    assert not page.has_more
    assert [(r.erp_id, r.reference, r.customer_erp_id, r.number) for r in page.records] == [
        (r.erp_id, r.reference, r.customer_erp_id, r.number) for r in pushed
    ]
    assert {(r.state, r.shipment_state, r.invoice_state) for r in page.records} == {
        ("processing", "waiting", "pending")
    }
    assert page.next == pushed[-1].erp_id
    first_page = connector.pull_orders(Cursor(), 1)
    assert (len(first_page.records), first_page.has_more, first_page.next) == (1, True, pushed[0].erp_id)
    since = max(r.changed_at for r in page.records) + timedelta(microseconds=1)
    assert connector.pull_orders(Cursor(since=since), 100).records == []

    # The warehouse ships PO-P1 and accounting posts its invoice, in the ERP.
    (sale,) = _sales(erp_admin, "PO-P1", acme)
    shipments = sale["shipments"]
    erp_admin.model("stock.shipment.out", "assign_try", shipments)
    for button in ("pick", "pack", "do"):
        erp_admin.model("stock.shipment.out", button, shipments)
    assert [row["state"] for row in erp_admin.model("stock.shipment.out", "read", shipments, ["state"])] == [
        "done"
    ]
    after_shipping = connector.pull_orders(Cursor(since=since), 100).records
    assert [(r.reference, r.shipment_state, r.invoice_state) for r in after_shipping] == [
        ("PO-P1", "sent", "pending")
    ]
    erp_admin.model("account.invoice", "post", sale["invoices"])

    changed = connector.pull_orders(Cursor(since=since), 100)

    assert [(r.reference, r.state, r.shipment_state, r.invoice_state) for r in changed.records] == [
        ("PO-P1", "processing", "sent", "awaiting payment")
    ]
    assert changed.records[0].changed_at >= since
    # the other sale did not move
    (other,) = (r for r in connector.pull_orders(Cursor(), 100).records if r.reference == "PO-P2")
    assert (other.shipment_state, other.invoice_state) == ("waiting", "pending")


def test_twenty_orders_of_ten_lines_in_one_push(
    connector: TrytonConnector, erp_admin: TrytonClient, calls: Counter[str]
) -> None:
    parties = [_party(erp_admin, f"CUST-{n:03d}") for n in range(1, 11)]
    products = erp_admin.model(
        "product.product", "search_read", [["code", "like", "SKU-%"]], 0, 200, [["code", "ASC"]], ["code"]
    )
    orders = [
        _order(
            f"PO-BENCH-{n:02d}",
            parties[n % 10],
            _address(parties[n % 10]["addresses"][0]),
            [(products[(n * 10 + i) % len(products)], "2", f"{i + 1}.{n:02d}00") for i in range(10)],
        )
        for n in range(20)
    ]

    started = time.perf_counter()
    results = connector.push_orders(orders)
    elapsed = time.perf_counter() - started
    calls_first = dict(calls)

    calls.clear()
    started = time.perf_counter()
    again = connector.push_orders(orders)
    elapsed_again = time.perf_counter() - started

    print(  # the figure is the point of this test (run with -s to see it)
        f"\npush_orders 20 orders x 10 lines: {elapsed:.2f} s ({elapsed / 20 * 1000:.0f} ms/order), "
        f"calls {calls_first}; re-push (all found): {elapsed_again:.2f} s"
    )
    assert all((r.state, r.error, r.created) == ("processing", "", True) for r in results), results
    assert all(not r.created for r in again)
    assert calls_first["sale.sale.create"] == 1
    assert calls_first["sale.sale.confirm"] == 1  # every customer's orders fit its credit together
    lines = erp_admin.model(
        "sale.line", "search_read", [["sale.reference", "like", "PO-BENCH-%"]], 0, None, None, ["id"]
    )
    assert len(lines) == 200


def test_orders_that_fit_the_credit_together_are_confirmed_in_one_call(
    connector: TrytonConnector, erp_admin: TrytonClient, calls: Counter[str]
) -> None:
    """CUST-003 (limit 10,000) with three orders of 1,000: they fit together, so one confirm call."""
    harbor = _party(erp_admin, "CUST-003")
    (pipe,) = _products(erp_admin, "SKU-00002")
    orders = [_big_order(f"PO-FIT-{n}", harbor, pipe, 1_000) for n in range(3)]

    results = connector.push_orders(orders)

    assert [(result.state, result.error) for result in results] == [("processing", "")] * 3
    assert calls["sale.sale.confirm"] == 1
    assert _party(erp_admin, "CUST-003")["credit_amount"] == Decimal("3000.00")


def test_a_sale_an_earlier_attempt_confirmed_meanwhile_is_no_refusal(
    connector: TrytonConnector, erp_admin: TrytonClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An earlier attempt whose answer never came back (the client timed out) goes on in the ERP and
    confirms the sale between this attempt's look-up and its confirm call: "You can not call confirm"."""
    acme = _party(erp_admin, "CUST-001")
    (screw,) = _products(erp_admin, "SKU-00001")
    orders = [
        _order(f"PO-LATE-{n}", acme, _address(acme["addresses"][0]), [(screw, "2", "0.1300")]) for n in (1, 2)
    ]
    model = connector.client.model
    raced: list[int] = []

    def earlier_attempt_first(name: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "confirm" and not raced:
            raced.append(args[0][0])
            model("sale.sale", "confirm", args[0][:1])  # the earlier attempt, finishing in the ERP
        return model(name, method, *args, **kwargs)

    monkeypatch.setattr(connector.client, "model", earlier_attempt_first)
    results = connector.push_orders(orders)

    assert raced
    assert [(result.error, result.state) for result in results] == [("", "processing")] * 2
    assert [len(_sales(erp_admin, f"PO-LATE-{n}", acme)) for n in (1, 2)] == [1, 1]
