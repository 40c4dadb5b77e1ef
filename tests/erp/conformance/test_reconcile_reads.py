"""The reconciliation reads (issue 12), written against the ``Connector`` protocol only.

A reconciliation read returns every record of an entity (not the changed ones), in an order the
connector keeps stable, from ``after`` (a page's ``next``; "" the start) exclusive, ``limit`` per page;
each ``ReconcileRecord`` carries the compared fields as ``reconcile_text`` makes them, whether the ERP
has archived it, the portal's own key (``reference``) and the record the entity's pull yields, so a fix
re-applies it through the stream's appliers; ``reconcile_one`` reads one record by its key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from apps.erp.connectors import connector_for
from apps.erp.connectors.base import (
    Connector,
    Cursor,
    ErpBusinessError,
    InvoiceRecord,
    OrderLinePush,
    OrderPush,
    Page,
    PriceListLine,
    PriceListPush,
    ReconcileRecord,
    StockRecord,
    reconcile_order_lines,
    reconcile_price_list_lines,
    reconcile_text,
)
from apps.erp.inbound import apply_page
from apps.erp.models import POSITION_MAX_LENGTH
from tests.erp.conformance.conftest import ConformanceErp, SeededCustomer, assert_pushed_then_confirmed

READS: dict[str, Callable[[Connector], Callable[[str, int], Page[ReconcileRecord]]]] = {
    "customers": lambda connector: connector.reconcile_customers,
    "products": lambda connector: connector.reconcile_products,
    "stock": lambda connector: connector.reconcile_stock,
    "price_lists": lambda connector: connector.reconcile_price_lists,
    "orders": lambda connector: connector.reconcile_orders,
    "invoices": lambda connector: connector.reconcile_invoices,
}
PAGE_SIZES = {"customers": 3, "products": 250, "stock": 250, "price_lists": 2, "orders": 2, "invoices": 2}
FIELDS = {
    "customers": {"name", "code", "credit_limit", "payment_term", "on_hold"},
    "products": {"sku", "name", "list_price", "unit"},
    "stock": {"quantity"},
    "price_lists": {"lines", "customers"},
    "orders": {"number", "state", "shipment_state", "invoice_state", "lines", "total"},
    "invoices": {"number", "state", "total_amount", "amount_paid", "due_date", "currency"},
}
NUMBER = re.compile(r"-?\d+(\.\d+)?")
EXPONENT = re.compile(r"\d[eE][+-]?\d")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# The pull of each entity the portal pulls (price lists are the portal's own: no pull, no record).
PULLS: dict[str, Callable[[Connector], Callable[[Cursor, int], Page[Any]]]] = {
    "customers": lambda connector: connector.pull_customers,
    "products": lambda connector: connector.pull_products,
    "stock": lambda connector: connector.pull_stock,
    "orders": lambda connector: connector.pull_orders,
    "invoices": lambda connector: connector.pull_invoices,
}


def _pages(erp: ConformanceErp, entity: str, limit: int) -> list[Page[ReconcileRecord]]:
    read = READS[entity](erp.connector)
    pages = [read("", limit)]
    while pages[-1].has_more:
        assert len(pages) < 1000
        pages.append(read(pages[-1].next, limit))
    return pages


def _read(erp: ConformanceErp, entity: str, limit: int = 500) -> dict[str, ReconcileRecord]:
    """Every record of one full read, by key (a key read twice fails the test)."""
    records = [record for page in _pages(erp, entity, limit) for record in page.records]
    keys = [record.key for record in records]
    assert len(keys) == len(set(keys)), f"read twice: {keys}"
    return {record.key: record for record in records}


def _order(reference: str, customer: SeededCustomer, product: str, *lines: tuple[str, str]) -> OrderPush:
    return OrderPush(
        reference=reference,
        customer_erp_id=customer.erp_id,
        ship_to=customer.ship_to,
        lines=[OrderLinePush(product, Decimal(quantity), Decimal(price)) for quantity, price in lines],
    )


def _price_list(key: str, customers: list[SeededCustomer], product: str, price: str) -> PriceListPush:
    return PriceListPush(
        key=key,
        name=f"Conformance {key}",
        lines=[
            PriceListLine(product, Decimal("10.000"), unit_price=Decimal(price)),
            PriceListLine(None, Decimal("0"), discount=Decimal("0.1000")),
        ],
        customer_erp_ids=[customer.erp_id for customer in customers],
    )


def _make(erp: ConformanceErp, entity: str) -> None:
    """What an entity's read needs besides the seeded data: five portal orders (orders), their posted
    invoices (invoices), five price lists (price_lists)."""
    customers, product = erp.driver.customers(), erp.driver.product_erp_id()
    if entity in ("orders", "invoices"):
        results = erp.connector.push_orders(
            [_order(f"PO-REC-{n}", customers[n % 3], product, ("2", "1.5000")) for n in range(5)]
        )
        assert_pushed_then_confirmed(erp, results)
        if entity == "invoices":
            for result in results:
                erp.driver.invoice_order(result.erp_id)
    if entity == "price_lists":
        pushes = [_price_list(f"portal-company-{n}", [customers[n % 3]], product, "9.5000") for n in range(5)]
        if erp.connector.capabilities.price_lists:
            erp.connector.push_price_lists(pushes)
        else:  # refused at once: the ERP has none, and its read has nothing
            with pytest.raises(ErpBusinessError, match="no price lists"):
                erp.connector.push_price_lists(pushes)
            assert READS["price_lists"](erp.connector)("", 100_000) == Page([], "", False)


def _none_to_read(erp: ConformanceErp, entity: str) -> bool:
    """An entity the ERP does not have (price lists where ``capabilities.price_lists`` is False): its
    reads are empty, its records absent (``_make`` checked the read)."""
    if entity == "price_lists" and not erp.connector.capabilities.price_lists:
        assert erp.connector.reconcile_one(entity, erp.driver.unknown_customer_erp_id()) is None
        return True
    return False


# --- Paging ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entity", list(READS))
def test_pages_read_every_record_exactly_once_and_resume_from_a_stored_position(
    erp: ConformanceErp, entity: str
) -> None:
    _make(erp, entity)
    if _none_to_read(erp, entity):
        return
    read = READS[entity](erp.connector)
    whole = read("", 100_000)
    assert not whole.has_more
    expected = [record.key for record in whole.records]
    assert len(expected) > 2 * PAGE_SIZES[entity]  # several pages
    assert len(expected) == len(set(expected))

    pages = _pages(erp, entity, PAGE_SIZES[entity])

    assert [record.key for page in pages for record in page.records] == expected  # one stable order
    assert all(len(page.records) <= PAGE_SIZES[entity] for page in pages)
    assert all(page.has_more for page in pages[:-1])
    assert not pages[-1].has_more
    assert all(isinstance(page.next, str) and len(page.next) <= POSITION_MAX_LENGTH for page in pages)
    # A position is stored and used again later, by another process: a new connector resumes from it,
    # after the records already read (exclusive).
    done = len(pages[0].records)
    resumed = connector_for(erp.connection)
    try:
        assert [record.key for record in READS[entity](resumed)(pages[0].next, 100_000).records] == (
            expected[done:]
        )
    finally:
        resumed.close()


@pytest.mark.parametrize("entity", list(READS))
def test_one_record_by_its_key_is_the_record_the_full_read_gives(erp: ConformanceErp, entity: str) -> None:
    _make(erp, entity)
    if _none_to_read(erp, entity):
        return
    records = _read(erp, entity)
    assert records
    for key in list(records)[:3] + list(records)[-2:]:
        one = erp.connector.reconcile_one(entity, key)
        assert one is not None
        # The same record (its ``record`` read again: a stock level's ``as_of`` is the time of the read).
        assert replace(one, record=None) == replace(records[key], record=None)
        assert type(one.record) is type(records[key].record)
    assert (
        erp.connector.reconcile_one(entity, erp.driver.unknown_customer_erp_id()) is None
    )  # an id no record has


@pytest.mark.parametrize("entity", list(READS))
def test_fields_are_normalised_text_with_no_exponent_nor_trailing_zeros(
    erp: ConformanceErp, entity: str
) -> None:
    _make(erp, entity)
    if _none_to_read(erp, entity):
        return
    records = _read(erp, entity)
    assert records
    for record in records.values():
        assert set(record.fields) == FIELDS[entity]
        for name, value in record.fields.items():
            assert isinstance(value, str), (record.key, name, value)
            # GUID ids (Business Central's) may hold "5e8": only the numbers around them are checked.
            assert not EXPONENT.search(GUID.sub("", value)), (record.key, name, value)
            if NUMBER.fullmatch(value) and "." in value:
                assert not value.endswith("0"), (record.key, name, value)


def test_what_each_entity_compares(erp: ConformanceErp) -> None:
    customers, product = erp.driver.customers(), erp.driver.product_erp_id()
    (pushed,) = erp.connector.push_orders(
        [_order("PO-REC-FIELDS", customers[0], product, ("10", "12.3450"), ("3", "0.1300"))]
    )
    invoice_id = erp.driver.invoice_order(pushed.erp_id)
    price_lists = erp.connector.capabilities.price_lists
    if price_lists:
        (price_list,) = erp.connector.push_price_lists(
            [_price_list("portal-company-7", [customers[1], customers[0]], product, "9.5000")]
        )

    customer = _read(erp, "customers")[customers[0].erp_id]
    assert (customer.reference, customer.fields["code"], customer.active) == (
        customers[0].code,
        customers[0].code,
        True,
    )
    assert customer.fields["credit_limit"] == "25000"  # the seeded 25,000.00
    assert customer.fields["on_hold"] == "false"

    item = _read(erp, "products")[product]
    assert item.reference == item.fields["sku"]
    assert item.reference
    assert item.active

    order = _read(erp, "orders")[pushed.erp_id]
    assert order.reference == f"{customers[0].erp_id}:PO-REC-FIELDS"
    assert (order.fields["number"], order.fields["total"]) == (pushed.number, "123.84")
    assert order.fields["lines"] == reconcile_order_lines(
        [(product, Decimal("10"), Decimal("12.345")), (product, Decimal("3.0"), Decimal("0.13"))]
    )
    assert order.fields["lines"] == f"{product}:10:12.345;{product}:3:0.13"

    invoice = _read(erp, "invoices")[invoice_id]
    assert invoice.reference == invoice.fields["number"]
    assert invoice.reference
    assert (invoice.fields["state"], invoice.fields["total_amount"], invoice.fields["amount_paid"]) == (
        "posted",
        "123.84",
        "0",
    )
    assert invoice.fields["currency"] == erp.driver.currency
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", invoice.fields["due_date"])

    if not price_lists:
        assert _read(erp, "price_lists") == {}
        return
    (listed,) = [record for record in _read(erp, "price_lists").values() if record.key == price_list.erp_id]
    assert (listed.reference, listed.record, listed.active) == ("portal-company-7", None, True)
    assert listed.fields["customers"] == ",".join(sorted((customers[0].erp_id, customers[1].erp_id), key=int))
    assert listed.fields["lines"] == reconcile_price_list_lines(
        [
            PriceListLine(product, Decimal("10"), unit_price=Decimal("9.5")),
            PriceListLine(None, Decimal("0.0"), discount=Decimal("0.1")),
        ]
    )
    assert listed.fields["lines"] == f"{product}:10:9.5:::;:0::0.1::"


# --- Archived, deleted, changed, duplicated --------------------------------------------------------------


def test_archived_products_and_customers_come_back_inactive(erp: ConformanceErp) -> None:
    customers, product = erp.driver.customers(), erp.driver.product_erp_id()
    before = _read(erp, "customers"), _read(erp, "products"), _read(erp, "stock")
    assert before[0][customers[2].erp_id].active
    assert before[1][product].active
    assert before[2][product].active

    erp.driver.archive_customer(customers[2].erp_id)
    erp.driver.archive_product(product)

    after = _read(erp, "customers"), _read(erp, "products"), _read(erp, "stock")
    assert [set(records) for records in after] == [set(records) for records in before]
    assert not after[0][customers[2].erp_id].active
    assert not after[1][product].active
    assert not after[2][product].active
    # An ERP without an archive flag on customers (Business Central) archives by blocking every
    # transaction, which is a credit hold too: the other fields stay.
    assert {k: v for k, v in after[0][customers[2].erp_id].fields.items() if k != "on_hold"} == {
        k: v for k, v in before[0][customers[2].erp_id].fields.items() if k != "on_hold"
    }
    assert after[1][product].fields == before[1][product].fields
    assert sum(not record.active for record in after[0].values()) == 1 + sum(
        not record.active for record in before[0].values()
    )


def test_a_deleted_record_is_absent(erp: ConformanceErp) -> None:
    product = erp.driver.new_product("SKU-REC-GONE")
    made = _read(erp, "products")[product]
    assert (made.reference, made.fields["sku"], made.active) == ("SKU-REC-GONE", "SKU-REC-GONE", True)
    assert _read(erp, "stock")[product].fields["quantity"] == "0"

    erp.driver.delete_product(product)

    assert product not in _read(erp, "products")
    assert product not in _read(erp, "stock")


def test_a_change_in_the_erp_shows_in_the_next_read(erp: ConformanceErp) -> None:
    customers, product = erp.driver.customers(), erp.driver.product_erp_id()
    (pushed,) = erp.connector.push_orders([_order("PO-REC-MOVES", customers[0], product, ("4", "2.5000"))])
    price_lists = erp.connector.capabilities.price_lists
    if price_lists:
        (price_list,) = erp.connector.push_price_lists(
            [_price_list("portal-company-8", [customers[0]], product, "9.5000")]
        )
    before = {entity: _read(erp, entity) for entity in READS}
    stock = Decimal(before["stock"][product].fields["quantity"])

    erp.driver.set_credit_limit(customers[1].erp_id, Decimal("31000.50"))
    erp.driver.move_stock(product, Decimal("7"))
    erp.driver.ship_order(pushed.erp_id)
    invoice_id = erp.driver.invoice_order(pushed.erp_id)
    if price_lists:
        erp.connector.push_price_lists([_price_list("portal-company-8", [customers[1]], product, "8.2500")])

    after = {entity: _read(erp, entity) for entity in READS}
    assert after["customers"][customers[1].erp_id].fields["credit_limit"] == "31000.5"
    assert after["stock"][product].fields["quantity"] == reconcile_text(stock + 7 - 4)  # in 7, shipped 4
    assert after["orders"][pushed.erp_id].fields["shipment_state"] == "sent"
    assert before["orders"][pushed.erp_id].fields["shipment_state"] != "sent"
    # Tryton makes the invoice (a draft) with the sale; Odoo only when accounting invoices it.
    assert invoice_id not in before["invoices"] or before["invoices"][invoice_id].fields["state"] != "posted"
    assert after["invoices"][invoice_id].fields["state"] == "posted"
    assert after["invoices"][invoice_id].fields["number"] == after["invoices"][invoice_id].reference != ""
    if price_lists:
        changed_list = after["price_lists"][price_list.erp_id]
        assert changed_list.fields["customers"] == customers[1].erp_id
        assert changed_list.fields["lines"] != before["price_lists"][price_list.erp_id].fields["lines"]
        assert changed_list.fields["lines"].startswith(f"{product}:10:8.25:")
    # Nothing else moved.
    for entity in ("customers", "products"):
        untouched = {key for key in before[entity] if key not in (customers[1].erp_id,)}
        assert {key: before[entity][key].fields for key in untouched} == {
            key: after[entity][key].fields for key in untouched
        }


def test_two_sales_of_one_order_come_back_as_two_records_with_one_reference(erp: ConformanceErp) -> None:
    customers, product = erp.driver.customers(), erp.driver.product_erp_id()
    (pushed,) = erp.connector.push_orders([_order("PO-REC-TWICE", customers[0], product, ("1", "3.0000"))])

    copy = erp.driver.duplicate_sale_reference(pushed.erp_id)

    orders = _read(erp, "orders")
    twins = [record for record in orders.values() if record.reference.endswith(":PO-REC-TWICE")]
    assert sorted(record.key for record in twins) == sorted([pushed.erp_id, copy])
    assert {record.reference for record in twins} == {f"{customers[0].erp_id}:PO-REC-TWICE"}
    assert twins[0].fields["lines"] == twins[1].fields["lines"] == f"{product}:1:3"


# --- The pulls' records ----------------------------------------------------------------------------------


def _comparable(record: Any) -> Any:
    """The pull's record as a reconciliation read gives it: stock without its read time, invoices without
    their lines and payments (a reconciliation compares headers; its ``lines`` and ``payments`` None leave
    the stored ones be)."""
    if isinstance(record, StockRecord):
        return replace(record, as_of=None)
    if isinstance(record, InvoiceRecord):
        return replace(record, lines=None, payments=None)
    return record


@pytest.mark.parametrize("entity", list(PULLS))
def test_each_record_is_the_record_the_pull_yields(erp: ConformanceErp, entity: str) -> None:
    _make(erp, entity)
    pulled = PULLS[entity](erp.connector)(Cursor(), 100_000)
    assert not pulled.has_more
    records = _read(erp, entity)
    assert pulled.records
    for record in pulled.records:
        key = record.product_erp_id if isinstance(record, StockRecord) else record.erp_id
        assert type(records[key].record) is type(record)
        assert _comparable(records[key].record) == _comparable(record)


def test_price_lists_have_no_record(erp: ConformanceErp) -> None:
    _make(erp, "price_lists")
    assert all(record.record is None for record in _read(erp, "price_lists").values())


def test_the_records_apply_through_the_streams_appliers(erp: ConformanceErp) -> None:
    _make(erp, "invoices")  # orders and their invoices
    erp.connection.save()
    for stream in ("customers", "products", "stock", "orders", "invoices"):
        records = [record.record for record in _read(erp, stream).values()]
        assert records
        changed = apply_page(connection=erp.connection, stream=stream, records=records)
        if stream in ("customers", "products"):
            assert changed > 0
            # Applied again: already there, nothing changes.
            assert apply_page(connection=erp.connection, stream=stream, records=records) == 0
