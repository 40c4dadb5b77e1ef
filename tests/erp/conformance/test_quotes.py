"""``Capabilities.quotes`` for every ERP, the declared value and the fallback alike: an ERP that keeps
quotations has ONE sale per quote in quotation state (reference = the quote number, the offered prices),
a new version replaces its lines (also after a lost answer), the order accepted from it takes that sale
over and confirms it with the PO number, and a quote that ends is cancelled like an order. An ERP without
quotations refuses every quote push and keeps nothing, and the order goes to it as its own sale."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.erp.connectors.base import (
    ErpTransientError,
    OrderCancel,
    OrderLinePush,
    OrderPush,
    QuotePush,
    reconcile_order_lines,
)
from tests.erp.conformance.conftest import ConformanceErp, SeededCustomer, pushed_states
from tests.erp.conformance.test_connector_conformance import _orders_named

D = Decimal


def _quote(reference: str, customer: SeededCustomer, product: str, quantity: str, price: str) -> QuotePush:
    return QuotePush(
        reference=reference,
        customer_erp_id=customer.erp_id,
        ship_to=customer.ship_to,
        lines=[OrderLinePush(product, D(quantity), D(price))],
        description=f"Quote {reference}",
    )


def _lines(erp: ConformanceErp, sale_erp_id: str) -> str:
    record = erp.connector.reconcile_one("orders", sale_erp_id)
    assert record is not None
    return record.fields["lines"]


def test_a_quote_is_one_quotation_whose_versions_replace_its_lines_and_its_order_confirms_it(
    erp: ConformanceErp,
) -> None:
    customer, product = erp.driver.customers()[0], erp.driver.product_erp_id()
    order = OrderPush(
        reference="PO-CONF-QUOTE",
        customer_erp_id=customer.erp_id,
        ship_to=customer.ship_to,
        lines=[OrderLinePush(product, D("7"), D("1.2500"))],
        quotation_reference="Q-CONF-1",
    )

    if not erp.connector.capabilities.quotes:
        (refused,) = erp.connector.push_quotes([_quote("Q-CONF-1", customer, product, "5", "1.5000")])
        assert refused.error
        assert (refused.erp_id, refused.state) == ("", "")
        assert _orders_named(erp, "Q-CONF-1") == []
        (pushed,) = erp.connector.push_orders([order])  # the order is its own sale, as without a quote
        assert (pushed.error, pushed.created, pushed.state in pushed_states(erp)) == ("", True, True)
        return

    (first,) = erp.connector.push_quotes([_quote("Q-CONF-1", customer, product, "5", "1.5000")])
    assert (first.created, first.error, first.state) == (True, "", "quotation")
    assert _lines(erp, first.erp_id) == reconcile_order_lines([(product, D("5"), D("1.5000"))])

    (second,) = erp.connector.push_quotes([_quote("Q-CONF-1", customer, product, "6", "1.4000")])
    assert (second.erp_id, second.created, second.error, second.state) == (
        first.erp_id,
        False,
        "",
        "quotation",
    )
    assert _lines(erp, first.erp_id) == reconcile_order_lines([(product, D("6"), D("1.4000"))])

    third = _quote("Q-CONF-1", customer, product, "7", "1.2500")
    with erp.driver.losing_the_answer(erp.connector), pytest.raises(ErpTransientError):
        erp.connector.push_quotes([third])
    (retry,) = erp.connector.push_quotes([third])
    assert (retry.erp_id, retry.error, retry.state) == (first.erp_id, "", "quotation")
    assert _lines(erp, first.erp_id) == reconcile_order_lines([(product, D("7"), D("1.2500"))])
    assert [record.erp_id for record in _orders_named(erp, "Q-CONF-1")] == [first.erp_id]

    (confirmed,) = erp.connector.push_orders([order])
    (again,) = erp.connector.push_orders([order])

    assert (confirmed.erp_id, confirmed.created, confirmed.error) == (first.erp_id, False, "")
    assert confirmed.state in pushed_states(erp)
    assert (again.erp_id, again.created, again.error) == (first.erp_id, False, "")
    assert _orders_named(erp, "Q-CONF-1") == []
    (sale,) = _orders_named(erp, "PO-CONF-QUOTE")
    assert sale.erp_id == first.erp_id


def test_a_quotation_is_cancelled_once_like_an_order(erp: ConformanceErp) -> None:
    customer, product = erp.driver.customers()[1], erp.driver.product_erp_id()
    (pushed,) = erp.connector.push_quotes([_quote("Q-CONF-2", customer, product, "2", "3.0000")])

    if not erp.connector.capabilities.quotes:
        assert pushed.error
        (nothing,) = erp.connector.cancel_orders([OrderCancel("Q-CONF-2", customer.erp_id)])
        assert (nothing.erp_id, nothing.error) == ("", "")
        return

    (cancelled,) = erp.connector.cancel_orders([OrderCancel("Q-CONF-2", customer.erp_id)])
    (again,) = erp.connector.cancel_orders([OrderCancel("Q-CONF-2", customer.erp_id)])

    assert (cancelled.erp_id, cancelled.state, cancelled.error) == (pushed.erp_id, "cancelled", "")
    assert (again.erp_id, again.state, again.error) == (pushed.erp_id, "cancelled", "")
    (sale,) = _orders_named(erp, "Q-CONF-2")
    assert sale.state == "cancelled"


def test_a_refused_quote_fails_alone_and_the_rest_of_its_batch_goes_on(erp: ConformanceErp) -> None:
    customers, product = erp.driver.customers(), erp.driver.product_erp_id()
    good = _quote("Q-CONF-3", customers[0], product, "1", "2.0000")
    bad = _quote("Q-CONF-4", customers[1], erp.driver.unknown_product_erp_id(), "1", "2.0000")

    made, refused = erp.connector.push_quotes([good, bad])

    assert refused.error
    assert (refused.erp_id, refused.state) == ("", "")
    assert _orders_named(erp, "Q-CONF-4") == []
    if not erp.connector.capabilities.quotes:
        assert made.error
        assert _orders_named(erp, "Q-CONF-3") == []
        return
    assert (made.error, made.created, made.state) == ("", True, "quotation")
    assert [record.erp_id for record in _orders_named(erp, "Q-CONF-3")] == [made.erp_id]
