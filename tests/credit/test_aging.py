"""Aging buckets at their edges; the arithmetic of aging and exposure over generated invoices and orders."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.credit.models import Invoice
from apps.credit.selectors import (
    BUCKET_KEYS,
    BUCKETS,
    CreditPosition,
    aging_bucket,
    aging_compute,
    credit_position_get,
    days_past_due,
)
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import CompanyFactory, UserFactory
from tests.credit.factories import CreditAccountFactory

D = Decimal
Status = PurchaseOrder.Status
TODAY = date(2026, 3, 15)

AMOUNTS = st.decimals(min_value=D("0.00"), max_value=D("1000000.00"), places=2)
LIMITS = st.one_of(st.none(), AMOUNTS)
DUE_DATES = st.one_of(st.none(), st.integers(-400, 400).map(lambda days: TODAY + timedelta(days=days)))
OPEN_ITEMS = st.lists(st.tuples(DUE_DATES, AMOUNTS), max_size=30)


# --- Examples at the edges ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_late", "bucket"),
    [
        (-30, "current"),  # not due yet
        (0, "current"),  # due today
        (1, "1_30"),
        (30, "1_30"),
        (31, "31_60"),
        (60, "31_60"),
        (61, "61_90"),
        (90, "61_90"),
        (91, "90_plus"),
        (3650, "90_plus"),
    ],
)
def test_bucket_edges(days_late: int, bucket: str) -> None:
    due = TODAY - timedelta(days=days_late)

    aging = aging_compute([(due, D("10.00"))], today=TODAY)

    assert days_past_due(due, TODAY) == max(days_late, 0)
    assert aging_bucket(days_past_due(due, TODAY)) == bucket
    assert aging.amounts == {key: D("10.00") if key == bucket else D("0.00") for key in BUCKET_KEYS}
    assert aging.counts == {key: 1 if key == bucket else 0 for key in BUCKET_KEYS}


def test_no_due_date_is_current() -> None:
    aging = aging_compute([(None, D("42.50"))], today=TODAY)

    assert days_past_due(None, TODAY) == 0
    assert aging.amounts["current"] == D("42.50")
    assert aging.past_due == D("0.00")


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="negative days past due: -1"):
        aging_bucket(-1)


def test_rows_in_order_with_labels_amounts_and_counts() -> None:
    aging = aging_compute(
        [
            (TODAY, D("100.00")),
            (TODAY - timedelta(days=5), D("20.00")),
            (TODAY - timedelta(days=25), D("30.00")),
            (TODAY - timedelta(days=45), D("40.50")),
            (TODAY - timedelta(days=200), D("7.25")),
        ],
        today=TODAY,
    )

    assert [(row.key, row.label, row.amount, row.count) for row in aging.rows] == [
        ("current", "Current", D("100.00"), 1),
        ("1_30", "1-30 days", D("50.00"), 2),
        ("31_60", "31-60 days", D("40.50"), 1),
        ("61_90", "61-90 days", D("0.00"), 0),
        ("90_plus", "Over 90 days", D("7.25"), 1),
    ]
    assert aging.total == D("197.75")
    assert aging.past_due == D("97.75")


# --- Properties --------------------------------------------------------------------------------------------


@given(days=st.integers(min_value=0, max_value=100_000))
@settings(max_examples=200, deadline=None)
def test_every_day_count_is_in_exactly_one_bucket(days: int) -> None:
    matching = [key for key, _, first, last in BUCKETS if first <= days and (last is None or days <= last)]

    assert matching == [aging_bucket(days)]


@given(due=DUE_DATES)
@settings(max_examples=200, deadline=None)
def test_the_invoice_and_the_selector_agree_on_days_past_due(due: date | None) -> None:
    assert Invoice(due_date=due).days_past_due(TODAY) == days_past_due(due, TODAY)


@given(items=OPEN_ITEMS)
@settings(max_examples=200, deadline=None)
def test_each_invoice_lands_in_one_bucket_and_the_buckets_add_up(
    items: list[tuple[date | None, Decimal]],
) -> None:
    aging = aging_compute(items, today=TODAY)

    for due, amount in items:
        alone = aging_compute([(due, amount)], today=TODAY)
        assert sorted(alone.counts.values()) == [0, 0, 0, 0, 1]
    assert sum(aging.amounts.values(), D("0.00")) == sum((amount for _, amount in items), D("0.00"))
    assert aging.total == sum((amount for _, amount in items), D("0.00"))
    assert sum(aging.counts.values()) == len(items)
    assert aging.past_due == sum(
        (amount for due, amount in items if days_past_due(due, TODAY) > 0), D("0.00")
    )
    assert all(isinstance(amount, Decimal) for amount in aging.amounts.values())


@given(items=OPEN_ITEMS, later_by=st.integers(min_value=0, max_value=400))
@settings(max_examples=200, deadline=None)
def test_as_today_moves_on_no_amount_gets_younger(
    items: list[tuple[date | None, Decimal]], later_by: int
) -> None:
    later = TODAY + timedelta(days=later_by)

    for due, _ in items:
        before = BUCKET_KEYS.index(aging_bucket(days_past_due(due, TODAY)))
        after = BUCKET_KEYS.index(aging_bucket(days_past_due(due, later)))
        assert after >= before
    # The same, bucket by bucket: what is at least this old never shrinks (amounts are not negative).
    now, then = aging_compute(items, today=TODAY), aging_compute(items, today=later)
    for index in range(len(BUCKET_KEYS)):
        older_now = sum((now.amounts[key] for key in BUCKET_KEYS[index:]), D("0.00"))
        older_then = sum((then.amounts[key] for key in BUCKET_KEYS[index:]), D("0.00"))
        assert older_then >= older_now


@given(
    open_invoices=AMOUNTS,
    not_invoiced=AMOUNTS,
    in_flow=AMOUNTS,
    limit=LIMITS,
    includes_in_flow=st.booleans(),
    order=AMOUNTS,
)
@settings(max_examples=200, deadline=None)
def test_position_arithmetic(
    open_invoices: Decimal,
    not_invoiced: Decimal,
    in_flow: Decimal,
    limit: Decimal | None,
    includes_in_flow: bool,
    order: Decimal,
) -> None:
    position = CreditPosition(
        company_id=1,
        currency="USD",
        credit_limit=limit,
        payment_term="",
        tolerance_days=0,
        includes_orders_in_flow=includes_in_flow,
        open_invoices=open_invoices,
        orders_not_invoiced=not_invoiced,
        orders_in_flow=in_flow,
    )
    exposure = open_invoices + not_invoiced + (in_flow if includes_in_flow else D("0.00"))

    assert position.exposure == exposure
    assert position.has_limit is (limit is not None)
    assert position.available == (None if limit is None else limit - exposure)
    assert position.fits(order) is (limit is None or exposure + order <= limit)


# --- Exposure on real rows ------------------------------------------------------------------------------

# Every order status, plus an invoiced order whose invoice is mirrored (and linked to it).
INVOICED_LINKED = "invoiced+invoice"
ORDER_KINDS = [*Status.values, INVOICED_LINKED]
NOT_INVOICED = {
    Status.APPROVED,
    Status.SENT_TO_ERP,
    Status.ACCEPTED,
    Status.PARTIALLY_SHIPPED,
    Status.SHIPPED,
    Status.INVOICED,  # no mirrored invoice yet
}
IN_FLOW = {Status.SUBMITTED, Status.AWAITING_APPROVAL, Status.CREDIT_HOLD}

INVOICES = st.lists(
    st.tuples(
        st.sampled_from(Invoice.State.values),
        AMOUNTS,  # total
        st.integers(0, 100),  # percent paid
        DUE_DATES,
    ),
    max_size=8,
)
ORDERS = st.lists(
    st.tuples(st.sampled_from(ORDER_KINDS), AMOUNTS, st.sampled_from(Invoice.State.values)), max_size=12
)


@pytest.mark.django_db
@given(
    invoices=INVOICES,
    order_rows=ORDERS,
    limit=LIMITS,
    includes_in_flow=st.booleans(),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_exposure_is_open_invoices_plus_orders_not_invoiced_and_available_the_rest(
    invoices: list[tuple[str, Decimal, int, date | None]],
    order_rows: list[tuple[str, Decimal, str]],
    limit: Decimal | None,
    includes_in_flow: bool,
) -> None:
    # A new company per example: the rows of earlier examples stay, and must not leak in.
    company = CompanyFactory()
    CreditAccountFactory(company=company, credit_limit=limit)
    buyer = UserFactory()
    Invoice.objects.bulk_create(
        Invoice(
            company=company,
            erp_id=f"{company.pk}-{n}",
            state=state,
            total_amount=total,
            amount_paid=(total * percent / 100).quantize(D("0.01")),
            due_date=due,
        )
        for n, (state, total, percent, due) in enumerate(invoices)
    )
    orders = PurchaseOrder.objects.bulk_create(
        PurchaseOrder(
            company=company,
            buyer=buyer,
            status=Status.INVOICED if kind == INVOICED_LINKED else kind,
            total_amount=total,
        )
        for kind, total, _ in order_rows
    )
    # The invoice of an invoiced order (any state) is its own amount; once it is posted or paid the order
    # no longer counts.
    for order, (kind, total, invoice_state) in zip(orders, order_rows, strict=True):
        if kind == INVOICED_LINKED:
            Invoice.objects.create(
                company=company,
                erp_id=f"{company.pk}-po-{order.pk}",
                state=invoice_state,
                total_amount=total,
            ).purchase_orders.add(order)
    open_invoices = sum(
        (
            total - (total * percent / 100).quantize(D("0.01"))
            for state, total, percent, _ in invoices
            if state == Invoice.State.POSTED
        ),
        D("0.00"),
    ) + sum(
        (
            total
            for kind, total, state in order_rows
            if kind == INVOICED_LINKED and state == Invoice.State.POSTED
        ),
        D("0.00"),
    )
    # An invoiced order counts until its invoice is mirrored posted or paid (a draft one does not cover it).
    covering = {Invoice.State.POSTED, Invoice.State.PAID}
    not_invoiced = sum(
        (
            total
            for kind, total, state in order_rows
            if kind in NOT_INVOICED or (kind == INVOICED_LINKED and state not in covering)
        ),
        D("0.00"),
    )
    in_flow = sum((total for kind, total, _ in order_rows if kind in IN_FLOW), D("0.00"))
    expected = open_invoices + not_invoiced + (in_flow if includes_in_flow else D("0.00"))

    with override_settings(CREDIT_EXPOSURE_INCLUDES_ORDERS_IN_FLOW=includes_in_flow):
        position = credit_position_get(company=company, today=TODAY)

    assert (position.open_invoices, position.orders_not_invoiced, position.orders_in_flow) == (
        open_invoices,
        not_invoiced,
        in_flow,
    )
    assert position.exposure == expected
    assert position.available == (None if limit is None else limit - expected)
    assert position.aging.total == open_invoices
