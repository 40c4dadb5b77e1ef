"""Ship-to addresses as the connector declares them (``Capabilities.ship_to_records``): ERP records, a
portal-made one created on the first push and found again by the next (also after a lost answer), or free
text on the order that adds no record to the customer. Written against the ``Connector`` protocol only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.erp.connectors.base import AddressRecord, Cursor, ErpTransientError, OrderLinePush, OrderPush
from tests.erp.conformance.conftest import ConformanceErp

NEW_DOCK = AddressRecord("", "77 New Dock Rd", "Toledo", "43604", "OH", "US")


def _addresses(erp: ConformanceErp, customer_erp_id: str) -> list[AddressRecord]:
    page = erp.connector.pull_customers(Cursor(), 100_000)
    (record,) = [record for record in page.records if record.erp_id == customer_erp_id]
    return record.addresses


def _push(erp: ConformanceErp, reference: str, ship_to: AddressRecord) -> OrderPush:
    customer = erp.driver.customers()[0]
    return OrderPush(
        reference=reference,
        customer_erp_id=customer.erp_id,
        ship_to=ship_to,
        lines=[OrderLinePush(erp.driver.product_erp_id(), Decimal(1), Decimal("2.5000"))],
    )


def test_a_portal_made_ship_to_becomes_one_erp_record_or_stays_text(erp: ConformanceErp) -> None:
    customer = erp.driver.customers()[0]
    before = _addresses(erp, customer.erp_id)
    assert NEW_DOCK.street not in {address.street for address in before}

    with erp.driver.losing_the_answer(erp.connector), pytest.raises(ErpTransientError):
        erp.connector.push_orders([_push(erp, "PO-SHIP-TO-1", NEW_DOCK)])
    (first,) = erp.connector.push_orders([_push(erp, "PO-SHIP-TO-1", NEW_DOCK)])
    (second,) = erp.connector.push_orders([_push(erp, "PO-SHIP-TO-2", NEW_DOCK)])

    assert (first.error, second.error) == ("", "")
    assert first.erp_id != second.erp_id
    after = _addresses(erp, customer.erp_id)
    made = [address for address in after if address.street == NEW_DOCK.street]
    if erp.connector.capabilities.ship_to_records:
        # Created once (whichever write the lost answer was), then found again by its content.
        (address,) = made
        assert address.erp_id
        assert address.erp_id not in {known.erp_id for known in before}
        assert (address.city, address.postal_code, address.country) == ("Toledo", "43604", "US")
        assert len(after) == len(before) + 1
    else:
        # The order carries the ship-to as text: the customer's addresses do not change.
        assert made == []
        assert after == before
