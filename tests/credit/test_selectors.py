"""Credit positions on real rows: what counts in exposure, past due and its tolerance, company by company."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AbstractUser

from apps.accounts.models import Company
from apps.credit.models import Invoice
from apps.credit.selectors import PastDue, credit_position_get, credit_positions
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import CompanyFactory, UserFactory
from tests.credit.factories import CreditAccountFactory, InvoiceFactory, PaymentTermFactory

D = Decimal
Status = PurchaseOrder.Status
TODAY = date(2026, 3, 15)


@pytest.fixture(autouse=True)
def _credit_defaults(settings: pytest.FixtureRequest) -> None:
    """The shipped defaults, whatever the environment says; tests that need others set them."""
    settings.CREDIT_EXPOSURE_INCLUDES_ORDERS_IN_FLOW = True  # type: ignore[attr-defined]
    settings.CREDIT_PAST_DUE_TOLERANCE_DAYS = 0  # type: ignore[attr-defined]


@pytest.fixture
def buyer(db: None) -> AbstractUser:
    return UserFactory(email="buyer@acme.example")


def _order(company: Company, buyer: AbstractUser, status: str, total: str) -> PurchaseOrder:
    return PurchaseOrder.objects.create(company=company, buyer=buyer, status=status, total_amount=D(total))


def _due(days_late: int, **fields: object) -> Invoice:
    return InvoiceFactory(due_date=TODAY - timedelta(days=days_late), **fields)


# Where each order status is counted: "not_invoiced", "in_flow", or None (not at all).
COUNTED_AS = {
    Status.DRAFT: None,
    Status.SUBMITTED: "in_flow",
    Status.AWAITING_APPROVAL: "in_flow",
    Status.CREDIT_HOLD: "in_flow",
    Status.APPROVED: "not_invoiced",
    Status.SENT_TO_ERP: "not_invoiced",
    Status.ACCEPTED: "not_invoiced",
    Status.PARTIALLY_SHIPPED: "not_invoiced",
    Status.SHIPPED: "not_invoiced",
    Status.INVOICED: "not_invoiced",  # until its invoice is mirrored
    Status.CLOSED: None,
    Status.REJECTED: None,
    Status.CANCELLED: None,
}


def test_every_status_is_placed() -> None:
    assert set(COUNTED_AS) == set(Status)


@pytest.mark.parametrize(("status", "counted_as"), COUNTED_AS.items())
def test_each_order_status_counts_in_its_bucket_or_not_at_all(
    company: Company, buyer: AbstractUser, status: str, counted_as: str | None
) -> None:
    CreditAccountFactory(company=company, credit_limit=D("1000.00"))
    _order(company, buyer, status, "123.45")

    position = credit_position_get(company=company, today=TODAY)

    assert position.orders_not_invoiced == (D("123.45") if counted_as == "not_invoiced" else D("0.00"))
    assert position.orders_in_flow == (D("123.45") if counted_as == "in_flow" else D("0.00"))
    assert position.exposure == (D("123.45") if counted_as else D("0.00"))
    assert position.available == (D("876.55") if counted_as else D("1000.00"))


@pytest.mark.parametrize("invoice_state", [Invoice.State.POSTED, Invoice.State.PAID])
def test_an_invoiced_order_with_its_invoice_mirrored_counts_as_the_invoice_only(
    company: Company, buyer: AbstractUser, invoice_state: str
) -> None:
    order = _order(company, buyer, Status.INVOICED, "400.00")
    invoice = _due(-10, company=company, total_amount=D("400.00"), state=invoice_state)
    invoice.purchase_orders.add(order)
    _order(company, buyer, Status.INVOICED, "50.00")  # its invoice is not pulled yet

    position = credit_position_get(company=company, today=TODAY)

    owed = D("400.00") if invoice_state == Invoice.State.POSTED else D("0.00")
    assert (position.open_invoices, position.orders_not_invoiced) == (owed, D("50.00"))
    assert position.exposure == owed + D("50.00")


@pytest.mark.parametrize(
    "invoice_state", [Invoice.State.DRAFT, Invoice.State.VALIDATED, Invoice.State.CANCELLED]
)
def test_an_invoiced_order_whose_mirrored_invoice_is_not_posted_yet_still_counts(
    company: Company, buyer: AbstractUser, invoice_state: str
) -> None:
    order = _order(company, buyer, Status.INVOICED, "400.00")
    _due(-10, company=company, total_amount=D("400.00"), state=invoice_state).purchase_orders.add(order)

    position = credit_position_get(company=company, today=TODAY)

    assert (position.open_invoices, position.orders_not_invoiced) == (D("0.00"), D("400.00"))


@pytest.mark.parametrize(
    "state", [Invoice.State.DRAFT, Invoice.State.VALIDATED, Invoice.State.PAID, Invoice.State.CANCELLED]
)
def test_only_posted_invoices_count(company: Company, state: str) -> None:
    _due(100, company=company, total_amount=D("500.00"), state=state)
    _due(100, company=company, total_amount=D("70.00"))

    position = credit_position_get(company=company, today=TODAY)

    assert position.open_invoices == D("70.00")
    assert position.aging.amounts["90_plus"] == D("70.00")
    assert position.aging.counts["90_plus"] == 1
    assert position.past_due.amount == D("70.00")


def test_a_partly_paid_invoice_counts_what_is_left(company: Company) -> None:
    _due(45, company=company, total_amount=D("300.00"), amount_paid=D("100.01"))

    position = credit_position_get(company=company, today=TODAY)

    assert position.open_invoices == D("199.99")
    assert position.aging.amounts["31_60"] == D("199.99")
    assert position.past_due == PastDue(tolerance_days=0, count=1, amount=D("199.99"), oldest_days=45)


def test_orders_in_flow_are_left_out_of_exposure_when_the_setting_is_off(
    settings: pytest.FixtureRequest, company: Company, buyer: AbstractUser
) -> None:
    settings.CREDIT_EXPOSURE_INCLUDES_ORDERS_IN_FLOW = False  # type: ignore[attr-defined]
    CreditAccountFactory(company=company, credit_limit=D("1000.00"))
    _due(-5, company=company, total_amount=D("100.00"))
    _order(company, buyer, Status.APPROVED, "200.00")
    _order(company, buyer, Status.SUBMITTED, "300.00")
    _order(company, buyer, Status.CREDIT_HOLD, "400.00")

    position = credit_position_get(company=company, today=TODAY)

    assert position.includes_orders_in_flow is False
    assert position.orders_in_flow == D("700.00")  # still reported, not counted
    assert position.exposure == D("300.00")
    assert position.available == D("700.00")


def test_orders_in_flow_count_when_the_setting_is_on(
    settings: pytest.FixtureRequest, company: Company, buyer: AbstractUser
) -> None:
    settings.CREDIT_EXPOSURE_INCLUDES_ORDERS_IN_FLOW = True  # type: ignore[attr-defined]
    CreditAccountFactory(company=company, credit_limit=D("1000.00"))
    _due(-5, company=company, total_amount=D("100.00"))
    _order(company, buyer, Status.APPROVED, "200.00")
    _order(company, buyer, Status.SUBMITTED, "300.00")
    _order(company, buyer, Status.CREDIT_HOLD, "400.00")

    position = credit_position_get(company=company, today=TODAY)

    assert position.exposure == D("1000.00")
    assert position.available == D("0.00")
    assert position.fits(D("0.00")) is True
    assert position.fits(D("0.01")) is False


def test_the_order_being_checked_is_left_out(company: Company, buyer: AbstractUser) -> None:
    other = _order(company, buyer, Status.APPROVED, "200.00")
    checked = _order(company, buyer, Status.SUBMITTED, "300.00")

    position = credit_position_get(company=company, today=TODAY, exclude_order_id=checked.pk)
    everything = credit_position_get(company=company, today=TODAY)

    assert (position.orders_not_invoiced, position.orders_in_flow) == (D("200.00"), D("0.00"))
    assert (everything.orders_not_invoiced, everything.orders_in_flow) == (D("200.00"), D("300.00"))
    excluded_other = credit_position_get(company=company, today=TODAY, exclude_order_id=other.pk)
    assert excluded_other.orders_not_invoiced == D("0.00")


@pytest.mark.parametrize(
    ("setting", "override", "days_late", "is_past_due"),
    [
        (0, None, 0, False),  # due today is never past due
        (0, None, 1, True),
        (10, None, 10, False),
        (10, None, 11, True),
        (10, 3, 4, True),  # the account's own tolerance wins
        (10, 3, 3, False),
        (10, 0, 1, True),  # an override of 0 is a tolerance of 0, not "use the setting"
        (0, 30, 30, False),
        (0, 30, 31, True),
    ],
)
def test_past_due_beyond_the_tolerance(
    settings: pytest.FixtureRequest,
    company: Company,
    setting: int,
    override: int | None,
    days_late: int,
    is_past_due: bool,
) -> None:
    settings.CREDIT_PAST_DUE_TOLERANCE_DAYS = setting  # type: ignore[attr-defined]
    CreditAccountFactory(company=company, past_due_tolerance_days=override)
    _due(days_late, company=company, total_amount=D("80.00"))

    position = credit_position_get(company=company, today=TODAY)

    tolerance = setting if override is None else override
    assert position.tolerance_days == tolerance
    expected = PastDue(tolerance, 1, D("80.00"), days_late) if is_past_due else PastDue(tolerance)
    assert position.past_due == expected
    assert position.open_invoices == D("80.00")


def test_past_due_sums_the_late_invoices_and_names_the_oldest(company: Company) -> None:
    CreditAccountFactory(company=company, past_due_tolerance_days=5)
    _due(6, company=company, total_amount=D("10.00"))
    _due(120, company=company, total_amount=D("20.00"), amount_paid=D("5.00"))
    _due(5, company=company, total_amount=D("40.00"))  # within the tolerance
    _due(200, company=company, total_amount=D("30.00"), amount_paid=D("30.00"))  # nothing left to pay
    _due(300, company=company, total_amount=D("99.00"), state=Invoice.State.PAID)

    position = credit_position_get(company=company, today=TODAY)

    assert position.past_due == PastDue(tolerance_days=5, count=2, amount=D("25.00"), oldest_days=120)
    assert position.open_invoices == D("65.00")


def test_a_company_without_credit_account_has_no_limit_and_the_default_tolerance(
    settings: pytest.FixtureRequest, company: Company, buyer: AbstractUser
) -> None:
    settings.CREDIT_PAST_DUE_TOLERANCE_DAYS = 7  # type: ignore[attr-defined]
    _order(company, buyer, Status.APPROVED, "200.00")

    position = credit_position_get(company=company, today=TODAY)

    assert (position.credit_limit, position.available, position.has_limit) == (None, None, False)
    assert (position.currency, position.payment_term, position.tolerance_days) == ("USD", "", 7)
    assert position.exposure == D("200.00")
    assert position.fits(D("1000000.00")) is True


def test_the_account_gives_limit_currency_and_payment_term(company: Company) -> None:
    CreditAccountFactory(
        company=company,
        credit_limit=D("2500.00"),
        currency="EUR",
        payment_term=PaymentTermFactory(name="Net 45", net_days=45),
    )

    position = credit_position_get(company=company, today=TODAY)

    assert (position.credit_limit, position.currency, position.payment_term) == (
        D("2500.00"),
        "EUR",
        "Net 45",
    )
    assert position.available == D("2500.00")


def test_another_companys_rows_never_leak_in(
    company: Company, other_company: Company, buyer: AbstractUser
) -> None:
    CreditAccountFactory(company=company, credit_limit=D("1000.00"), past_due_tolerance_days=0)
    CreditAccountFactory(company=other_company, credit_limit=D("5.00"), past_due_tolerance_days=0)
    _due(50, company=other_company, total_amount=D("900.00"))
    _order(other_company, buyer, Status.APPROVED, "800.00")
    _order(other_company, buyer, Status.SUBMITTED, "700.00")
    linked = _order(other_company, buyer, Status.INVOICED, "600.00")
    _due(-1, company=other_company, total_amount=D("600.00")).purchase_orders.add(linked)
    _due(-1, company=company, total_amount=D("10.00"))
    _order(company, buyer, Status.SHIPPED, "20.00")

    mine = credit_position_get(company=company, today=TODAY)
    both = credit_positions(company_ids=[company.pk, other_company.pk], today=TODAY)

    assert (mine.open_invoices, mine.orders_not_invoiced, mine.orders_in_flow) == (
        D("10.00"),
        D("20.00"),
        D("0.00"),
    )
    assert mine.past_due == PastDue(0)
    assert mine.available == D("970.00")
    assert both[company.pk] == mine
    theirs = both[other_company.pk]
    assert (theirs.open_invoices, theirs.orders_not_invoiced, theirs.orders_in_flow) == (
        D("1500.00"),
        D("800.00"),
        D("700.00"),
    )
    assert theirs.past_due.amount == D("900.00")


def test_positions_for_many_companies_take_a_constant_handful_of_queries(
    buyer: AbstractUser,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    companies = [CompanyFactory() for _ in range(20)]
    for n, company in enumerate(companies):
        if n % 4:  # some without an account
            CreditAccountFactory(company=company, credit_limit=D("1000.00") + n)
        _due(n * 5, company=company, total_amount=D("10.00"))
        _due(-3, company=company, total_amount=D("5.00"))
        _order(company, buyer, Status.APPROVED, "100.00")
        _order(company, buyer, Status.SUBMITTED, "1.00")
        _order(company, buyer, Status.INVOICED, "2.00")

    with django_assert_max_num_queries(4):
        positions = credit_positions(company_ids=[company.pk for company in companies], today=TODAY)

    assert sorted(positions) == sorted(company.pk for company in companies)
    assert {position.exposure for position in positions.values()} == {D("118.00")}
    assert [positions[company.pk].past_due.count for company in companies] == [0] + [1] * 19
    assert [positions[company.pk].available for company in companies[:2]] == [None, D("883.00")]
