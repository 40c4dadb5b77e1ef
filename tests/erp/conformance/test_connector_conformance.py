"""What every ERP connector must do for the sync engine, written against the ``Connector`` protocol only.

Each test runs once per connector kind of the ``erp`` fixture (conftest.py); ERP-side changes go through
``erp.driver``. Behaviours (issue 11): paging with cursor and overlap; records changed in the past
re-read; idempotent pushes after an interrupted attempt; transient vs business errors; credit refusals;
cancel; order states; invoice amounts and links.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.erp.connectors import connector_for
from apps.erp.connectors.base import (
    AddressRecord,
    Connector,
    Cursor,
    CustomerPush,
    ErpBusinessError,
    ErpTransientError,
    ErpUnavailableError,
    OrderCancel,
    OrderLinePush,
    OrderPush,
    OrderPushResult,
    OrderStateRecord,
    Page,
    PriceListLine,
    PriceListPush,
    PushResult,
)
from apps.erp.models import POSITION_MAX_LENGTH
from tests.erp.conformance.conftest import (
    CONFIRMED,
    ConformanceErp,
    SeededCustomer,
    assert_pushed_then_confirmed,
    pushed_states,
)

TICK = timedelta(microseconds=1)
# The engine re-reads this far behind a stream's high-water mark (settings.ERP_PULL_OVERLAP_SECONDS).
ENGINE_OVERLAP = timedelta(seconds=300)
PULLS: dict[str, Callable[[Connector], Callable[[Cursor, int], Page[Any]]]] = {
    "customers": lambda connector: connector.pull_customers,
    "products": lambda connector: connector.pull_products,
    "stock": lambda connector: connector.pull_stock,
    "orders": lambda connector: connector.pull_orders,
    "invoices": lambda connector: connector.pull_invoices,
}
PAGE_SIZES = {"customers": 3, "products": 250, "stock": 250, "orders": 2, "invoices": 2}


def _key(record: Any) -> str:
    return record.product_erp_id if hasattr(record, "product_erp_id") else record.erp_id


def _pages(fetch: Callable[[Cursor, int], Page[Any]], since: datetime | None, limit: int) -> list[Page[Any]]:
    """Every page of one run, as the engine reads them: same ``since``, ``after`` the last page's ``next``."""
    pages = [fetch(Cursor(since=since), limit)]
    while pages[-1].has_more:
        assert len(pages) < 1000
        pages.append(fetch(Cursor(since=since, after=pages[-1].next), limit))
    return pages


def _run(erp: ConformanceErp, stream: str, since: datetime | None = None) -> dict[str, Any]:
    """One run's records by key (the last read wins); a record read twice in a run fails the test, except
    an incremental stock run's: its pages go by the ERP's stock changes (e.g. Tryton's stock moves), and a
    product whose stock changed twice may come on two pages (the engine's upsert makes that harmless)."""
    pages = _pages(PULLS[stream](erp.connector), since, PAGE_SIZES[stream])
    keys = [_key(record) for page in pages for record in page.records]
    if stream != "stock" or since is None:
        assert len(keys) == len(set(keys)), f"read twice in one run: {keys}"
    return {_key(record): record for page in pages for record in page.records}


def _order(
    reference: str, customer: SeededCustomer, product: str, *lines: tuple[str, str], **kwargs: Any
) -> OrderPush:
    return OrderPush(
        reference=reference,
        customer_erp_id=customer.erp_id,
        ship_to=customer.ship_to,
        lines=[OrderLinePush(product, Decimal(quantity), Decimal(price)) for quantity, price in lines],
        **kwargs,
    )


def _orders_named(erp: ConformanceErp, reference: str) -> list[OrderStateRecord]:
    return [record for record in _run(erp, "orders").values() if record.reference == reference]


def _make_orders_and_invoices(erp: ConformanceErp, stream: str) -> None:
    """Five portal orders (orders stream) and their posted invoices (invoices stream)."""
    if stream not in ("orders", "invoices"):
        return
    customers, product = erp.driver.customers(), erp.driver.product_erp_id()
    results = erp.connector.push_orders(
        [_order(f"PO-PAGE-{n}", customers[n % 3], product, ("2", "1.5000")) for n in range(5)]
    )
    assert_pushed_then_confirmed(erp, results)
    if stream == "invoices":
        for result in results:
            erp.driver.invoice_order(result.erp_id)


# --- 1. Paging with cursor and overlap -------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["customers", "products", "stock", "orders", "invoices"])
def test_pages_read_every_record_exactly_once_in_one_stable_order(erp: ConformanceErp, stream: str) -> None:
    _make_orders_and_invoices(erp, stream)
    fetch = PULLS[stream](erp.connector)
    whole = fetch(Cursor(), 100_000)
    assert not whole.has_more
    expected = [_key(record) for record in whole.records]
    assert len(expected) > 2 * PAGE_SIZES[stream]  # several pages

    pages = _pages(fetch, None, PAGE_SIZES[stream])

    assert [_key(record) for page in pages for record in page.records] == expected
    assert all(len(page.records) <= PAGE_SIZES[stream] for page in pages)
    assert all(page.has_more for page in pages[:-1])
    assert not pages[-1].has_more
    assert all(len(page.next) <= POSITION_MAX_LENGTH for page in pages)


@pytest.mark.parametrize("stream", ["customers", "products", "orders", "invoices"])
def test_a_later_run_rereads_what_changed_at_or_after_since_and_nothing_older(
    erp: ConformanceErp, stream: str
) -> None:
    _make_orders_and_invoices(erp, stream)
    known = _run(erp, stream)
    high_water = max(record.changed_at for record in known.values())
    first, last = next(iter(known)), list(known)[-1]  # two records, in the run's order

    erp.driver.touch(stream, [last, first])  # last id changed first
    changed = _run(erp, stream, since=high_water + TICK)

    assert set(changed) == {first, last}
    assert changed[last].changed_at < changed[first].changed_at
    assert min(record.changed_at for record in changed.values()) > high_water
    known.update(changed)
    high_water = changed[first].changed_at
    # A later run starts at the high-water mark minus an overlap window: it reads again exactly what
    # changed at or after that point (the boundary included), and nothing older.
    for overlap, rereads in [
        (timedelta(0), {first}),
        (high_water - changed[last].changed_at, {first, last}),
        (ENGINE_OVERLAP, None),
    ]:
        since = high_water - overlap
        again = _run(erp, stream, since=since)
        assert set(again) == {key for key, record in known.items() if record.changed_at >= since}
        if rereads is not None:
            assert set(again) == rereads
        assert all(again[key].changed_at == known[key].changed_at for key in again)


def test_stock_moved_in_the_erp_reaches_the_next_run_with_its_overlap(erp: ConformanceErp) -> None:
    customers_product = erp.driver.product_erp_id()
    before = _run(erp, "stock")
    other = next(key for key in before if key != customers_product)
    erp.driver.move_stock(other, Decimal(5))
    (moved,) = [
        record
        for record in _run(erp, "stock", since=datetime(2000, 1, 1).astimezone()).values()
        if record.product_erp_id == other
    ]
    assert moved.changed_at is not None

    erp.driver.move_stock(customers_product, Decimal(25))
    changed = _run(erp, "stock", since=moved.changed_at + TICK)
    overlap = _run(erp, "stock", since=moved.changed_at)

    assert list(changed) == [customers_product]
    assert changed[customers_product].quantity == before[customers_product].quantity + 25
    assert isinstance(changed[customers_product].quantity, Decimal)
    assert changed[customers_product].changed_at > moved.changed_at
    assert set(overlap) == {other, customers_product}
    assert overlap[other].quantity == before[other].quantity + 5


# --- 2. Records changed in the past ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["customers", "products", "orders", "invoices"])
def test_a_change_stamped_before_the_high_water_mark_is_reread_within_the_overlap(
    erp: ConformanceErp, stream: str
) -> None:
    """A long ERP transaction stamps its rows when it began and commits after a pull has passed that
    time: the pull's high-water mark is later than the row's stamp. Only the overlap window finds it."""
    _make_orders_and_invoices(erp, stream)
    known = _run(erp, stream)
    first, last = next(iter(known)), list(known)[-1]  # two records, in the run's order
    erp.driver.touch(stream, [last])
    (high_water,) = [
        record.changed_at
        for record in _run(
            erp, stream, since=max(record.changed_at for record in known.values()) + TICK
        ).values()
    ]

    stamped = high_water - timedelta(seconds=2)
    erp.driver.touch(stream, [first], at=stamped)  # committed now, stamped before the high-water mark
    missed = _run(erp, stream, since=high_water + TICK)
    since = high_water - timedelta(seconds=10)
    caught = _run(erp, stream, since=since)

    assert missed == {}  # a run from the high-water mark alone never sees it
    assert {first, last} <= set(caught)
    assert since <= caught[first].changed_at < high_water
    assert caught[last].changed_at == high_water
    assert all(record.changed_at >= since for record in caught.values())


# --- 3. Idempotent pushes after an interrupted attempt -------------------------------------------------


def test_an_order_push_retried_after_a_lost_answer_makes_one_sale(erp: ConformanceErp) -> None:
    customer, product = erp.driver.customers()[0], erp.driver.product_erp_id()
    order = _order("PO-CONF-LOST", customer, product, ("10", "0.1300"), ("2", "12.0000"))

    with erp.driver.losing_the_answer(erp.connector), pytest.raises(ErpTransientError):
        erp.connector.push_orders([order])
    (retry,) = erp.connector.push_orders([order])
    (again,) = erp.connector.push_orders([order])

    assert (retry.created, retry.error, retry.credit_refused) == (False, "", False)
    assert retry.state in pushed_states(erp)
    assert retry.erp_id
    assert retry.number
    assert (again.erp_id, again.number, again.created, again.error) == (retry.erp_id, retry.number, False, "")
    (sale,) = _orders_named(erp, "PO-CONF-LOST")
    assert (sale.erp_id, sale.number, sale.customer_erp_id) == (retry.erp_id, retry.number, customer.erp_id)

    # Without an interruption: created once, found on the repeat.
    plain = _order("PO-CONF-TWICE", customer, product, ("1", "0.1300"))
    (made,) = erp.connector.push_orders([plain])
    (repeat,) = erp.connector.push_orders([plain])
    assert (made.created, repeat.created) == (True, False)
    assert (repeat.erp_id, repeat.number, repeat.state, repeat.error) == (
        made.erp_id,
        made.number,
        made.state,
        "",
    )
    assert len(_orders_named(erp, "PO-CONF-TWICE")) == 1


def test_a_customer_push_retried_after_a_lost_answer_makes_one_customer(erp: ConformanceErp) -> None:
    address = AddressRecord("", "9 Depot Rd", "Dayton", "45402", "OH", "US")
    lost = CustomerPush("PORTAL-CONF-1", "Conformance Builders", [address])
    created: list[PushResult] = []

    with erp.driver.losing_the_answer(erp.connector), pytest.raises(ErpTransientError):
        erp.connector.push_customers([lost], on_created=created.append)
    (retry,) = erp.connector.push_customers([lost], on_created=created.append)

    assert (retry.code, retry.created) == ("PORTAL-CONF-1", False)
    assert retry.erp_id
    assert created == []
    (record,) = [r for r in _run(erp, "customers").values() if r.code == "PORTAL-CONF-1"]
    assert (record.erp_id, record.name) == (retry.erp_id, "Conformance Builders")

    plain = CustomerPush("PORTAL-CONF-2", "Second Conformance Co", [address])
    (made,) = erp.connector.push_customers([plain], on_created=created.append)
    (repeat,) = erp.connector.push_customers([plain], on_created=created.append)
    assert created == [made]
    assert (made.created, repeat.created, repeat.erp_id) == (True, False, made.erp_id)
    assert [r.code for r in _run(erp, "customers").values()].count("PORTAL-CONF-2") == 1


def test_a_price_list_push_retried_after_a_lost_answer_is_replaced_not_duplicated(
    erp: ConformanceErp,
) -> None:
    customer, product = erp.driver.customers()[0], erp.driver.product_erp_id()
    key = "portal-conformance-7"
    push = PriceListPush(
        key, "Conformance", [PriceListLine(product, Decimal(1), unit_price=Decimal("9.5"))], [customer.erp_id]
    )
    if not erp.connector.capabilities.price_lists:
        # An ERP without price lists refuses the push at once, sending nothing (prices go on order lines).
        with pytest.raises(ErpBusinessError, match="no price lists") as refused:
            erp.connector.push_price_lists([push])
        assert not isinstance(refused.value, ErpTransientError)
        assert erp.driver.price_list_ids(key) == []
        return

    with erp.driver.losing_the_answer(erp.connector), pytest.raises(ErpTransientError):
        erp.connector.push_price_lists([push])
    (interrupted,) = erp.driver.price_list_ids(key)
    (retry,) = erp.connector.push_price_lists([push])
    changed = replace(push, lines=[PriceListLine(None, Decimal(0), discount=Decimal("0.10"))])
    (again,) = erp.connector.push_price_lists([changed])

    assert (retry.key, retry.erp_id, retry.created) == (key, interrupted, False)
    assert (again.erp_id, again.created) == (interrupted, False)
    assert erp.driver.price_list_ids(key) == [interrupted]

    (fresh,) = erp.connector.push_price_lists([replace(push, key="portal-conformance-8")])
    assert fresh.created
    assert fresh.erp_id != interrupted


# --- 4. Transient vs business errors ---------------------------------------------------------------------


def test_an_unreachable_erp_raises_unavailable_from_every_call_and_changes_nothing(
    erp: ConformanceErp,
) -> None:
    customer, product = erp.driver.customers()[0], erp.driver.product_erp_id()
    order = _order("PO-CONF-DOWN", customer, product, ("1", "0.1300"))
    dead = connector_for(erp.driver.dead_connection())
    calls: list[Callable[[], object]] = [
        *(lambda pull=pull: pull(dead)(Cursor(), 10) for pull in PULLS.values()),
        lambda: dead.push_orders([order]),
        lambda: dead.push_customers([CustomerPush("PORTAL-CONF-DOWN", "Down Co")]),
        lambda: dead.cancel_orders([OrderCancel("PO-CONF-DOWN", customer.erp_id)]),
    ]
    price_lists = lambda: dead.push_price_lists([PriceListPush("conf-down", "Down", [], [])])  # noqa: E731
    if erp.connector.capabilities.price_lists:
        calls.append(price_lists)
    else:  # nothing to send, so nothing to reach: refused at once
        with pytest.raises(ErpBusinessError, match="no price lists"):
            price_lists()
    try:
        for call in calls:
            with pytest.raises(ErpUnavailableError) as raised:
                call()
            assert isinstance(raised.value, ErpTransientError)
            assert raised.value.message
    finally:
        dead.close()

    assert erp.connector.health().reachable
    assert _orders_named(erp, "PO-CONF-DOWN") == []
    assert "PORTAL-CONF-DOWN" not in {r.code for r in _run(erp, "customers").values()}
    assert erp.driver.price_list_ids("conf-down") == []


def test_health_reports_an_unreachable_erp_without_raising(erp: ConformanceErp) -> None:
    dead = connector_for(erp.driver.dead_connection())
    try:
        health = dead.health()
    finally:
        dead.close()

    assert not health.reachable
    assert health.detail
    assert erp.connector.health().reachable


def test_a_refused_order_fails_alone_and_the_rest_of_its_batch_goes_on(erp: ConformanceErp) -> None:
    customers, product = erp.driver.customers(), erp.driver.product_erp_id()
    unknown_product = _order("PO-CONF-X1", customers[0], erp.driver.unknown_product_erp_id(), ("1", "1"))
    unknown_customer = replace(
        _order("PO-CONF-X2", customers[0], product, ("1", "1")),
        customer_erp_id=erp.driver.unknown_customer_erp_id(),
    )
    good = [_order(f"PO-CONF-OK{n}", customers[n], product, ("3", "0.1300")) for n in (0, 1)]

    results = erp.connector.push_orders([good[0], unknown_product, unknown_customer, good[1]])

    assert [result.reference for result in results] == [
        "PO-CONF-OK0",
        "PO-CONF-X1",
        "PO-CONF-X2",
        "PO-CONF-OK1",
    ]
    ok0, refused_product, refused_customer, ok1 = results
    for ok in (ok0, ok1):
        assert (ok.error, ok.created, ok.credit_refused) == ("", True, False)
        assert ok.state in pushed_states(erp)
    for refused in (refused_product, refused_customer):
        assert refused.error
        assert (refused.erp_id, refused.number, refused.state, refused.created, refused.credit_refused) == (
            "",
            "",
            "",
            False,
            False,
        )
    assert erp.driver.unknown_product_erp_id() in refused_product.error
    assert erp.driver.unknown_customer_erp_id() in refused_customer.error
    pulled = {record.reference for record in _run(erp, "orders").values()}
    assert pulled == {"PO-CONF-OK0", "PO-CONF-OK1"}


def test_refused_customer_and_price_list_raise_business_errors_and_change_nothing(
    erp: ConformanceErp,
) -> None:
    before = _run(erp, "customers")
    created: list[PushResult] = []

    with pytest.raises(ErpBusinessError) as customer_refused:
        erp.connector.push_customers(
            [erp.driver.invalid_customer("PORTAL-CONF-BAD")], on_created=created.append
        )
    both = PriceListLine(None, Decimal(0), unit_price=Decimal("1"), discount=Decimal("0.1"))  # exactly one
    with pytest.raises(ErpBusinessError) as price_list_refused:
        erp.connector.push_price_lists([PriceListPush("conf-bad", "Bad", [both], [])])

    for raised in (customer_refused.value, price_list_refused.value):
        assert not isinstance(raised, ErpTransientError)
        assert raised.message
    assert created == []
    after = _run(erp, "customers")
    assert set(after) == set(before)
    assert "PORTAL-CONF-BAD" not in {record.code for record in after.values()}
    assert erp.driver.price_list_ids("conf-bad") == []


# --- 5. Credit refusals ----------------------------------------------------------------------------------


def test_an_order_over_the_credit_limit_stays_a_quotation_until_the_warning_is_accepted(
    erp: ConformanceErp,
) -> None:
    customers, product = erp.driver.customers(), erp.driver.product_erp_id()
    erp.driver.set_credit_limit(customers[0].erp_id, Decimal("100.00"))
    over = _order("PO-CONF-CREDIT", customers[0], product, ("10", "50.0000"))  # 500.00
    within = _order("PO-CONF-FITS", customers[1], product, ("10", "50.0000"))
    if not erp.connector.capabilities.credit_limit_enforced:
        # The ERP only warns (Business Central, Odoo): the order over the limit goes in like the other,
        # the portal's own credit check is the only one, and pushed again it is found.
        over_pushed, fits = erp.connector.push_orders([over, within])
        for result in (over_pushed, fits):
            assert (result.error, result.credit_refused, result.created) == ("", False, True)
            assert result.state in pushed_states(erp)
        (again,) = erp.connector.push_orders([replace(over, accept_credit_warning=True)])
        assert (again.erp_id, again.created, again.error, again.credit_refused) == (
            over_pushed.erp_id,
            False,
            "",
            False,
        )
        (sale,) = _orders_named(erp, "PO-CONF-CREDIT")
        assert (sale.erp_id, sale.state) == (over_pushed.erp_id, over_pushed.state)
        return

    refused, fits = erp.connector.push_orders([over, within])

    assert (fits.error, fits.credit_refused) == ("", False)
    assert fits.state in CONFIRMED
    assert refused.error
    assert (refused.credit_refused, refused.created, refused.state) == (True, True, "quotation")
    assert refused.erp_id
    (sale,) = _orders_named(erp, "PO-CONF-CREDIT")
    assert (sale.erp_id, sale.state) == (refused.erp_id, "quotation")

    # The same push again is refused again, on the same sale.
    (still,) = erp.connector.push_orders([over])
    assert (still.erp_id, still.created, still.state, still.credit_refused) == (
        refused.erp_id,
        False,
        "quotation",
        True,
    )
    assert still.error

    # Finance accepted the overrun for this order.
    (accepted,) = erp.connector.push_orders([replace(over, accept_credit_warning=True)])

    assert (accepted.erp_id, accepted.created, accepted.error, accepted.credit_refused) == (
        refused.erp_id,
        False,
        "",
        False,
    )
    assert accepted.state in CONFIRMED
    (sale,) = _orders_named(erp, "PO-CONF-CREDIT")
    assert (sale.erp_id, sale.state) == (refused.erp_id, accepted.state)


# --- 6. Cancel --------------------------------------------------------------------------------------------


def test_cancel_cancels_a_quotation_once_refuses_a_confirmed_sale_and_ignores_unknown_orders(
    erp: ConformanceErp,
) -> None:
    customers, product = erp.driver.customers(), erp.driver.product_erp_id()
    quote_order = _order("PO-CONF-QUOTE", customers[0], product, ("10", "50.0000"))
    goes_on = _order("PO-CONF-GOES-ON", customers[1], product, ("1", "0.1300"))
    quotation: OrderPushResult | OrderStateRecord
    if erp.connector.capabilities.credit_limit_enforced:
        erp.driver.set_credit_limit(customers[0].erp_id, Decimal("100.00"))
        quotation, confirmed = erp.connector.push_orders([quote_order, goes_on])
    elif not erp.connector.capabilities.order_confirm:
        # Every push leaves a quotation (Business Central): the ERP's people confirm the other one below.
        quotation, confirmed = erp.connector.push_orders([quote_order, goes_on])
    else:
        # No credit refusal leaves a quotation: an interrupted push does (the sale was created, its
        # confirmation never sent).
        with erp.driver.losing_the_answer(erp.connector), pytest.raises(ErpTransientError):
            erp.connector.push_orders([quote_order])
        (confirmed,) = erp.connector.push_orders([goes_on])
        (quotation,) = _orders_named(erp, "PO-CONF-QUOTE")
    assert quotation.state == "quotation"
    if erp.connector.capabilities.order_confirm:
        assert confirmed.state in CONFIRMED
        confirmed_state = confirmed.state
    else:  # left a quotation by the push: the ERP's people confirm it
        assert confirmed.state == "quotation"
        erp.driver.confirm_order(confirmed.erp_id)
        (record,) = _orders_named(erp, "PO-CONF-GOES-ON")
        confirmed_state = record.state
        assert confirmed_state in CONFIRMED
    quote = OrderCancel("PO-CONF-QUOTE", customers[0].erp_id)
    # "delete": the cancelled sale is gone from the ERP (a second cancel finds nothing; no pull reports
    # it); "cancel": it stays, cancelled.
    deleted = erp.connector.capabilities.cancel == "delete"

    first, unknown = erp.connector.cancel_orders([quote, OrderCancel("PO-CONF-NEVER", customers[0].erp_id)])
    (second,) = erp.connector.cancel_orders([quote])
    (refused,) = erp.connector.cancel_orders([OrderCancel("PO-CONF-GOES-ON", customers[1].erp_id)])

    assert (first.reference, first.erp_id, first.state, first.error) == (
        "PO-CONF-QUOTE",
        quotation.erp_id,
        "cancelled",
        "",
    )
    assert (second.erp_id, second.state, second.error) == (
        "" if deleted else quotation.erp_id,
        "cancelled",
        "",
    )
    assert (unknown.reference, unknown.erp_id, unknown.error) == ("PO-CONF-NEVER", "", "")
    assert (refused.erp_id, refused.state) == (confirmed.erp_id, confirmed_state)
    assert refused.error
    states = {record.reference: record.state for record in _run(erp, "orders").values()}
    kept = {} if deleted else {"PO-CONF-QUOTE": "cancelled"}
    assert states == {**kept, "PO-CONF-GOES-ON": confirmed_state}


# --- 7. Order states ---------------------------------------------------------------------------------------


def test_pull_orders_follows_the_sale_through_shipment_invoice_and_payment(erp: ConformanceErp) -> None:
    customers, product = erp.driver.customers(), erp.driver.product_erp_id()
    moving, waiting = erp.connector.push_orders(
        [
            _order("PO-CONF-MOVES", customers[0], product, ("4", "2.5000")),
            _order("PO-CONF-WAITS", customers[1], product, ("1", "2.5000")),
        ]
    )
    assert_pushed_then_confirmed(erp, [moving, waiting])
    start = _run(erp, "orders")
    assert {(r.reference, r.erp_id, r.number, r.customer_erp_id) for r in start.values()} == {
        ("PO-CONF-MOVES", moving.erp_id, moving.number, customers[0].erp_id),
        ("PO-CONF-WAITS", waiting.erp_id, waiting.number, customers[1].erp_id),
    }
    for record in start.values():
        assert record.state in CONFIRMED
        assert record.shipment_state in ("none", "waiting")
        assert record.invoice_state in ("none", "pending")
    high_water = max(record.changed_at for record in start.values())
    seen: list[tuple[str, str, str]] = []

    def step() -> OrderStateRecord:
        nonlocal high_water
        (record,) = _run(erp, "orders", since=high_water + TICK).values()  # only the one that moved
        assert (record.erp_id, record.reference) == (moving.erp_id, "PO-CONF-MOVES")
        high_water = record.changed_at
        seen.append((record.state, record.shipment_state, record.invoice_state))
        return record

    erp.driver.ship_order(moving.erp_id)
    step()
    invoice = erp.driver.invoice_order(moving.erp_id)
    step()
    erp.driver.pay_invoice(invoice, Decimal("10.00"))
    step()

    assert [state[1:] for state in seen] == [
        ("sent", start[moving.erp_id].invoice_state),
        ("sent", "awaiting payment"),
        ("sent", "paid"),
    ]
    assert [state[0] for state in seen[:2]] == [start[moving.erp_id].state] * 2
    assert seen[2][0] == "done"  # shipped and paid: nothing left to do
    (other,) = [r for r in _run(erp, "orders").values() if r.reference == "PO-CONF-WAITS"]
    assert other == start[waiting.erp_id]


# --- 8. Invoice amounts and links --------------------------------------------------------------------------


def test_pull_invoices_gives_decimal_amounts_due_date_payments_and_the_order_reference(
    erp: ConformanceErp,
) -> None:
    customer, product = erp.driver.customers()[0], erp.driver.product_erp_id()
    (pushed,) = erp.connector.push_orders(
        [_order("PO-CONF-INV", customer, product, ("10", "12.3450"), ("3", "0.1300"))]  # 123.45 + 0.39
    )
    invoice_id = erp.driver.invoice_order(pushed.erp_id)

    posted = _run(erp, "invoices")[invoice_id]

    assert (posted.customer_erp_id, posted.sale_references, posted.currency, posted.state) == (
        customer.erp_id,
        ["PO-CONF-INV"],
        erp.driver.currency,
        "posted",
    )
    assert (type(posted.total_amount), type(posted.amount_paid)) == (Decimal, Decimal)
    assert (posted.total_amount, posted.amount_paid) == (Decimal("123.84"), Decimal("0"))
    assert posted.number
    assert posted.invoice_date is not None
    assert posted.due_date is not None
    assert posted.due_date >= posted.invoice_date

    erp.driver.pay_invoice(invoice_id, Decimal("23.84"))
    (partly,) = _run(erp, "invoices", since=posted.changed_at + TICK).values()
    erp.driver.pay_invoice(invoice_id, Decimal("100.00"))
    (paid,) = _run(erp, "invoices", since=partly.changed_at + TICK).values()

    assert (partly.erp_id, partly.state, partly.amount_paid, partly.total_amount) == (
        invoice_id,
        "posted",
        Decimal("23.84"),
        Decimal("123.84"),
    )
    assert (paid.erp_id, paid.state, paid.amount_paid, paid.total_amount) == (
        invoice_id,
        "paid",
        Decimal("123.84"),
        Decimal("123.84"),
    )
    for record in (partly, paid):
        assert (type(record.total_amount), type(record.amount_paid)) == (Decimal, Decimal)
        assert (record.number, record.invoice_date, record.sale_references, record.currency) == (
            posted.number,
            posted.invoice_date,
            ["PO-CONF-INV"],
            erp.driver.currency,
        )
        assert record.due_date is not None
    assert paid.changed_at > partly.changed_at > posted.changed_at


def test_pull_invoices_gives_the_invoice_lines_with_product_sku_quantity_price_and_amount(
    erp: ConformanceErp,
) -> None:
    customer, product = erp.driver.customers()[0], erp.driver.product_erp_id()
    sku = _run(erp, "products")[product].sku
    (pushed,) = erp.connector.push_orders(
        [_order("PO-CONF-LINES", customer, product, ("10", "12.3450"), ("3", "0.1300"))]
    )
    invoice_id = erp.driver.invoice_order(pushed.erp_id)

    posted = _run(erp, "invoices")[invoice_id]

    assert posted.lines is not None
    assert [
        (line.product_erp_id, line.sku, line.quantity, line.unit_price, line.amount) for line in posted.lines
    ] == [
        (product, sku, Decimal("10"), Decimal("12.3450"), Decimal("123.45")),
        (product, sku, Decimal("3"), Decimal("0.1300"), Decimal("0.39")),
    ]
    for line in posted.lines:
        assert (type(line.quantity), type(line.unit_price), type(line.amount)) == (Decimal, Decimal, Decimal)
        assert isinstance(line.description, str)


def test_pull_invoices_gives_each_payment_or_none_as_the_erp_declares(erp: ConformanceErp) -> None:
    """``invoice_payments``: a part payment and the rest are two payments on the invoice, a credit note's
    refund a negative one, each dated the day it was booked; an ERP without them reads none (None: the
    statement derives its payment line from ``amount_paid``)."""
    customer, product = erp.driver.customers()[0], erp.driver.product_erp_id()
    (pushed,) = erp.connector.push_orders(
        [_order("PO-CONF-PAYMENTS", customer, product, ("10", "12.3450"), ("3", "0.1300"))]  # 123.84
    )
    invoice_id = erp.driver.invoice_order(pushed.erp_id)
    credit_id = erp.driver.credit_note(customer.erp_id, Decimal("20.00"))
    posted = _run(erp, "invoices")[invoice_id]
    erp.driver.pay_invoice(invoice_id, Decimal("23.84"))
    erp.driver.pay_invoice(invoice_id, Decimal("100.00"))
    erp.driver.refund_credit_note(credit_id, Decimal("5.00"))

    records = _run(erp, "invoices", since=posted.changed_at + TICK)
    paid, refunded = records[invoice_id], records[credit_id]

    assert (paid.state, paid.amount_paid) == ("paid", Decimal("123.84"))
    if not erp.connector.capabilities.invoice_payments:
        assert (posted.payments, paid.payments, refunded.payments) == (None, None, None)
        return
    assert posted.payments == []
    assert paid.payments is not None
    assert refunded.payments is not None
    assert refunded.amount_paid == Decimal("-5.00")
    assert [(p.paid_on, p.amount) for p in paid.payments] == [
        (posted.invoice_date, Decimal("23.84")),
        (posted.invoice_date, Decimal("100.00")),
    ]
    assert [(p.paid_on, p.amount) for p in refunded.payments] == [(refunded.invoice_date, Decimal("-5.00"))]
    for payment in [*paid.payments, *refunded.payments]:
        assert type(payment.amount) is Decimal
        assert payment.reference
        assert isinstance(payment.reference, str)
    assert sum(p.amount for p in paid.payments) == paid.amount_paid
