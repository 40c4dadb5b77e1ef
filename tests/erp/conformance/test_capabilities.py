"""The ``Capabilities`` values not asserted elsewhere in the suite, each for the value the connector declares
and for the fallback: ``customer_holds`` (a credit hold put on and lifted in the ERP reaches the customer
pull, or an ERP without holds never reports one) and ``credit_memo_amount_paid`` (a credit note's partial
refund shows as its amount paid, or only its whole refund shows, as paid). Written against the
``Connector`` protocol and the driver only."""

from __future__ import annotations

from decimal import Decimal

from tests.erp.conformance.conftest import ConformanceErp
from tests.erp.conformance.test_connector_conformance import TICK, _run


def test_a_credit_hold_put_on_in_the_erp_comes_with_the_next_customer_pull_and_a_lift_takes_it_off(
    erp: ConformanceErp,
) -> None:
    held, other, _ = erp.driver.customers()
    before = _run(erp, "customers")
    assert not any(record.on_hold or record.hold_reason for record in before.values())  # seeded: none held
    high_water = max(record.changed_at for record in before.values())

    erp.driver.hold_customer(held.erp_id, True)
    on = _run(erp, "customers", since=high_water + TICK)
    everyone_on = _run(erp, "customers")

    if not erp.connector.capabilities.customer_holds:
        # The ERP has no credit hold (Odoo): the driver's hold changes nothing, so nothing is pulled
        # again and no customer is ever on hold (holds are set in the portal).
        assert on == {}
        assert everyone_on == before
        erp.driver.hold_customer(held.erp_id, False)
        assert _run(erp, "customers") == before
        return

    assert list(on) == [held.erp_id]  # only the held customer changed
    assert on[held.erp_id].on_hold
    assert on[held.erp_id].hold_reason.strip()
    assert on[held.erp_id].changed_at > high_water
    assert [key for key, record in everyone_on.items() if record.on_hold] == [held.erp_id]
    assert (everyone_on[other.erp_id].on_hold, everyone_on[other.erp_id].hold_reason) == (False, "")

    erp.driver.hold_customer(held.erp_id, False)
    off = _run(erp, "customers", since=on[held.erp_id].changed_at + TICK)

    assert list(off) == [held.erp_id]
    assert (off[held.erp_id].on_hold, off[held.erp_id].hold_reason) == (False, "")
    assert off[held.erp_id].changed_at > on[held.erp_id].changed_at
    assert not any(record.on_hold for record in _run(erp, "customers").values())


def test_a_credit_note_has_a_negative_total_and_shows_its_refunds_as_the_erp_keeps_them(
    erp: ConformanceErp,
) -> None:
    customer = erp.driver.customers()[1]
    note_id = erp.driver.credit_note(customer.erp_id, Decimal("250.00"))

    posted = _run(erp, "invoices")[note_id]

    assert (posted.customer_erp_id, posted.currency, posted.state, posted.sale_references) == (
        customer.erp_id,
        erp.driver.currency,
        "posted",
        [],
    )
    assert (type(posted.total_amount), type(posted.amount_paid)) == (Decimal, Decimal)
    assert (posted.total_amount, posted.amount_paid) == (Decimal("-250.00"), Decimal(0))
    assert posted.number
    assert posted.invoice_date is not None

    erp.driver.refund_credit_note(note_id, Decimal("100.00"))  # a partial refund
    partly = _run(erp, "invoices")[note_id]

    assert (partly.erp_id, partly.number, partly.state, partly.total_amount) == (
        note_id,
        posted.number,
        "posted",
        Decimal("-250.00"),
    )
    if erp.connector.capabilities.credit_memo_amount_paid:
        # What was refunded, with the note's sign; the refund is a change the next run reads.
        assert partly.amount_paid == Decimal("-100.00")
        assert partly.changed_at > posted.changed_at
        assert list(_run(erp, "invoices", since=posted.changed_at + TICK)) == [note_id]
    else:
        # The ERP keeps no refunded amount on a credit note (Business Central: no remainingAmount): a
        # partial refund does not show, the note is still wholly open.
        assert partly.amount_paid == Decimal(0)

    erp.driver.refund_credit_note(note_id, Decimal("150.00"))  # the rest
    (paid,) = _run(erp, "invoices", since=partly.changed_at + TICK).values()

    assert (paid.erp_id, paid.number, paid.state, paid.total_amount, paid.amount_paid) == (
        note_id,
        posted.number,
        "paid",
        Decimal("-250.00"),
        Decimal("-250.00"),
    )
    assert (type(paid.total_amount), type(paid.amount_paid)) == (Decimal, Decimal)
    assert paid.changed_at > partly.changed_at
