"""Statements of account: the figures (opening, documents, payments, closing, aging), both parties, the
period's edges in the company's time zone, the form's refusals and who may download whose."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from apps.accounts.models import Company, Membership, Role, StaffRole
from apps.credit.models import Invoice, InvoicePayment
from apps.credit.statements import Statement, last_full_month, statement_get
from apps.credit.statements import company_today as statement_today
from tests.accounts.factories import CompanyFactory
from tests.credit.factories import CreditAccountFactory, InvoiceFactory

pytestmark = pytest.mark.django_db


def pdf_text(content: bytes) -> str:
    """The PDF's text, each run of white space (a table cell's edge, a line break) one space."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages).split())


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def books(company: Company) -> Company:
    """March 2026 in New York: one invoice and one payment before, an invoice on the first and on the last
    day, a credit note, a payment inside, a payment on April 1st in New York (still March 31st in UTC)."""
    company.time_zone = "America/New_York"
    company.erp_customer_code = "C-0042"
    company.save()
    company.ship_to_addresses.create(
        label="Main",
        street="1 Dock Road",
        city="Springfield",
        postal_code="12345",
        country="US",
        is_default=True,
    )
    CreditAccountFactory(company=company)
    # Before the period: 500 invoiced in February, 200 of it paid on Feb 20th.
    InvoiceFactory(
        company=company,
        number="INV-FEB",
        invoice_date=date(2026, 2, 10),
        total_amount=Decimal("500.00"),
        amount_paid=Decimal("200.00"),
        erp_updated_at=at(2026, 2, 20),
    )
    # First day: 300.00, paid in full on March 15th (state paid).
    InvoiceFactory(
        company=company,
        number="INV-FIRST",
        invoice_date=date(2026, 3, 1),
        total_amount=Decimal("300.00"),
        amount_paid=Decimal("300.00"),
        state=Invoice.State.PAID,
        erp_updated_at=at(2026, 3, 15),
    )
    # Credit note of 50.00 on March 10th, not used yet.
    InvoiceFactory(
        company=company,
        number="CN-0001",
        invoice_date=date(2026, 3, 10),
        total_amount=Decimal("-50.00"),
        due_date=date(2026, 3, 10),
    )
    # Last day: 120.25, paid at 02:00 UTC April 1st = 22:00 March 31st in New York: in the period.
    InvoiceFactory(
        company=company,
        number="INV-LAST",
        invoice_date=date(2026, 3, 31),
        total_amount=Decimal("120.25"),
        amount_paid=Decimal("20.25"),
        erp_updated_at=datetime(2026, 4, 1, 2, tzinfo=UTC),
    )
    # After the period, on April 1st: not on the statement.
    InvoiceFactory(
        company=company, number="INV-APRIL", invoice_date=date(2026, 4, 1), total_amount=Decimal("999.00")
    )
    # Never on a statement: a draft, a cancelled invoice, another company's invoice.
    InvoiceFactory(company=company, number="", invoice_date=None, due_date=None, state=Invoice.State.DRAFT)
    InvoiceFactory(
        company=company, number="INV-CANCELLED", invoice_date=date(2026, 3, 5), state=Invoice.State.CANCELLED
    )
    InvoiceFactory(company=CompanyFactory(), number="INV-FOREIGN", invoice_date=date(2026, 3, 5))
    return company


def test_statement_figures(books: Company) -> None:
    statement = statement_get(company=books, start=date(2026, 3, 1), end=date(2026, 3, 31))

    assert statement.opening == Decimal("300.00")
    assert [
        (line.day, line.label, line.reference, line.amount, line.balance) for line in statement.lines
    ] == [
        (date(2026, 3, 1), "Invoice", "INV-FIRST", Decimal("300.00"), Decimal("600.00")),
        (date(2026, 3, 10), "Credit note", "CN-0001", Decimal("-50.00"), Decimal("550.00")),
        (date(2026, 3, 15), "Payment", "INV-FIRST", Decimal("-300.00"), Decimal("250.00")),
        (date(2026, 3, 31), "Invoice", "INV-LAST", Decimal("120.25"), Decimal("370.25")),
        (date(2026, 3, 31), "Payment", "INV-LAST", Decimal("-20.25"), Decimal("350.00")),
    ]
    assert statement.closing == Decimal("350.00")
    # Aging at March 31st: INV-FEB (due March 12th) 300 and CN-0001 (March 10th) -50 are 19 and 21 days
    # late; INV-LAST's 100 left is current.
    assert statement.aging.amounts == {
        "current": Decimal("100.00"),
        "1_30": Decimal("250.00"),
        "31_60": Decimal("0.00"),
        "61_90": Decimal("0.00"),
        "90_plus": Decimal("0.00"),
    }
    assert statement.aging.total == statement.closing


def test_the_period_edges_are_the_company_days(books: Company) -> None:
    """In UTC the last payment falls on April 1st; in New York it is March 31st, so April's statement
    starts from the same balance March's ends with."""
    april = statement_get(company=books, start=date(2026, 4, 1), end=date(2026, 4, 30))

    assert april.opening == Decimal("350.00")
    assert [line.reference for line in april.lines] == ["INV-APRIL"]

    books.time_zone = "UTC"
    books.save()
    march_in_utc = statement_get(company=books, start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert march_in_utc.closing == Decimal("370.25")


def test_the_pdf_says_it_all(books: Company, settings: pytest.FixtureRequest) -> None:
    settings.PORTAL_COMPANY_NAME = "Acme Wholesale Ltd"
    settings.PORTAL_COMPANY_ADDRESS = "9 Market Street; 54321 Capital City; US"
    settings.PORTAL_COMPANY_CONTACT = "accounts@acme.example; +1 555 0100"
    from apps.credit.statement_pdf import statement_pdf

    text = pdf_text(
        statement_pdf(statement_get(company=books, start=date(2026, 3, 1), end=date(2026, 3, 31)))
    )

    for expected in [
        "Statement of account",
        "Acme Wholesale Ltd",
        "9 Market Street",
        "54321 Capital City",
        "accounts@acme.example",
        books.name,
        "1 Dock Road",
        "12345 Springfield",
        "Customer code: C-0042",
        "2026-03-01 to 2026-03-31",
        "2026-03-01 Opening balance 300.00",
        "2026-03-01 Invoice INV-FIRST 2026-03-31 300.00 600.00",
        "2026-03-10 Credit note CN-0001 2026-03-10 -50.00 550.00",
        "2026-03-15 Payment INV-FIRST -300.00 250.00",
        "2026-03-31 Invoice INV-LAST 2026-04-30 120.25 370.25",
        "2026-03-31 Payment INV-LAST -20.25 350.00",
        "2026-03-31 Closing balance 350.00",
        "Aging as of 2026-03-31",
        "1-30 days 2 250.00",
        "Current 1 100.00",
        "Total 350.00",
        "USD",
    ]:
        assert expected in text, expected
    assert "INV-APRIL" not in text
    assert "INV-CANCELLED" not in text
    assert "INV-FOREIGN" not in text
    assert "Payments are shown as the amount paid" in text


def test_last_full_month() -> None:
    assert last_full_month(date(2026, 3, 1)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert last_full_month(date(2026, 1, 31)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_a_buyer_downloads_the_statement(
    books: Company, member_factory: Callable[..., Membership], client: Client
) -> None:
    client.force_login(member_factory(books, Role.VIEWER).user)

    response = client.get(reverse("buyer-statement"), {"start": "2026-03-01", "end": "2026-03-31"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="statement-C-0042-20260301-20260331.pdf"'
    text = pdf_text(response.content)
    assert books.name in text
    assert "2026-03-31 Closing balance 350.00" in text


def test_the_invoices_page_offers_last_full_month(
    books: Company, member_factory: Callable[..., Membership], client: Client
) -> None:
    client.force_login(member_factory(books, Role.BUYER).user)

    page = client.get(reverse("buyer-invoices")).content.decode()

    start, end = last_full_month(statement_today(books))
    assert f'name="start" value="{start:%Y-%m-%d}"' in page
    assert f'name="end" value="{end:%Y-%m-%d}"' in page
    assert reverse("buyer-statement") in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-03-31", "end": "2026-03-01"}, "The period starts after it ends"),
        ({"start": "2024-01-01", "end": "2026-03-01"}, "at most 366 days"),
        ({"start": "yesterday", "end": "2026-03-01"}, "Enter the first day as YYYY-MM-DD."),
        ({"start": "2026-02-30", "end": "2026-03-01"}, "Enter the first day as YYYY-MM-DD."),
        ({"start": "2026-03-01"}, "This field is required."),
    ],
)
def test_a_bad_period_is_a_form_error(
    books: Company,
    member_factory: Callable[..., Membership],
    client: Client,
    query: dict[str, str],
    message: str,
) -> None:
    client.force_login(member_factory(books, Role.BUYER).user)

    response = client.get(reverse("buyer-statement"), query)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert message in response.content.decode()


def test_finance_downloads_any_company_and_a_manager_only_theirs(
    books: Company, staff_factory: Callable[..., object], client: Client
) -> None:
    period = {"start": "2026-03-01", "end": "2026-03-31"}
    client.force_login(staff_factory(StaffRole.FINANCE))
    response = client.get(reverse("company-statement", args=[books.pk]), period)
    assert response["Content-Type"] == "application/pdf"
    assert "2026-03-31 Closing balance 350.00" in pdf_text(response.content)

    manager = staff_factory(StaffRole.ACCOUNT_MANAGER)
    client.force_login(manager)
    assert client.get(reverse("company-statement", args=[books.pk]), period).status_code == 404
    books.account_manager = manager
    books.save()
    assert (
        client.get(reverse("company-statement", args=[books.pk]), period)["Content-Type"] == "application/pdf"
    )


def test_a_member_gets_only_their_own_company(
    books: Company, member_factory: Callable[..., Membership], client: Client
) -> None:
    """The buyer's URL has no company in it: another company's member gets their own books."""
    stranger = member_factory(CompanyFactory(name="Stranger Ltd"), Role.ADMIN)
    client.force_login(stranger.user)

    response = client.get(reverse("buyer-statement"), {"start": "2026-03-01", "end": "2026-03-31"})

    text = pdf_text(response.content)
    assert "Stranger Ltd" in text
    assert books.name not in text
    assert "INV-FIRST" not in text
    assert "2026-03-31 Closing balance 0.00" in text


def test_the_statement_reads_a_long_history_in_a_few_queries(
    books: Company, django_assert_max_num_queries: Callable[..., object]
) -> None:
    for n in range(40):
        bulk = InvoiceFactory(
            company=books,
            number=f"INV-BULK-{n:02d}",
            invoice_date=date(2026, 3, 2),
            amount_paid=Decimal("10.00"),
            erp_updated_at=at(2026, 3, 20),
        )
        if n % 2:  # half with the payment the ERP booked, half derived
            bulk.payments.create(paid_on=date(2026, 3, 18), amount=Decimal("10.00"), reference=f"P-{n}")

    with django_assert_max_num_queries(5):  # type: ignore[operator]
        statement = statement_get(company=books, start=date(2026, 3, 1), end=date(2026, 3, 31))

    assert len(statement.lines) == 5 + 80
    assert statement.closing == Decimal("350.00") + 40 * Decimal("90.00")


def test_finance_sees_the_statement_form_and_document_links_on_the_credit_page(
    books: Company, staff_factory: Callable[..., object], client: Client
) -> None:
    client.force_login(staff_factory(StaffRole.FINANCE))
    first = Invoice.objects.get(number="INV-FIRST")

    page = client.get(reverse("finance-company-credit", args=[books.pk])).content.decode()

    assert f'action="{reverse("company-statement", args=[books.pk])}"' in page
    assert reverse("staff-invoice-document", args=[first.pk]) in page
    draft = Invoice.objects.get(company=books, state=Invoice.State.DRAFT)
    assert reverse("staff-invoice-document", args=[draft.pk]) not in page


def test_payments_the_erp_booked_are_lines_on_their_own_days_and_only_the_rest_is_derived(
    company: Company,
) -> None:
    company.time_zone = "UTC"
    company.save()
    CreditAccountFactory(company=company)
    itemised = InvoiceFactory(
        company=company,
        number="INV-PARTS",
        invoice_date=date(2026, 2, 20),
        total_amount=Decimal("300.00"),
        amount_paid=Decimal("300.00"),
        state=Invoice.State.PAID,
        erp_updated_at=at(2026, 3, 25),
    )
    InvoicePayment.objects.bulk_create(
        [
            InvoicePayment(
                invoice=itemised, paid_on=date(2026, 2, 27), amount=Decimal("100.00"), reference="P1"
            ),
            InvoicePayment(
                invoice=itemised, paid_on=date(2026, 3, 9), amount=Decimal("200.00"), reference="P2"
            ),
        ]
    )
    refund = InvoiceFactory(
        company=company,
        number="CN-PARTS",
        invoice_date=date(2026, 3, 2),
        total_amount=Decimal("-40.00"),
        amount_paid=Decimal("-40.00"),
        erp_updated_at=at(2026, 3, 28),
    )
    refund.payments.create(paid_on=date(2026, 3, 12), amount=Decimal("-40.00"), reference="R1")

    march = statement_get(company=company, start=date(2026, 3, 1), end=date(2026, 3, 31))

    assert march.opening == Decimal("200.00")  # 300 invoiced, 100 paid on Feb 27th
    assert [(line.day, line.label, line.reference, line.amount, line.balance) for line in march.lines] == [
        (date(2026, 3, 2), "Credit note", "CN-PARTS", Decimal("-40.00"), Decimal("160.00")),
        (date(2026, 3, 9), "Payment", "INV-PARTS", Decimal("-200.00"), Decimal("-40.00")),
        (date(2026, 3, 12), "Credit used", "CN-PARTS", Decimal("40.00"), Decimal("0.00")),
    ]
    assert march.closing == Decimal("0.00")
    assert march.notes == []  # nothing derived: the PDF states no derived rule
    assert "Payments are shown as the amount paid" not in pdf_text(_pdf(march))

    # 50.00 more paid of the invoice than its booked payments: that rest is derived, on the day it changed.
    Invoice.objects.filter(pk=itemised.pk).update(
        total_amount=Decimal("350.00"), amount_paid=Decimal("350.00")
    )
    march = statement_get(company=company, start=date(2026, 3, 1), end=date(2026, 3, 31))

    assert [(line.day, line.reference, line.amount) for line in march.lines if line.label == "Payment"] == [
        (date(2026, 3, 9), "INV-PARTS", Decimal("-200.00")),
        (date(2026, 3, 25), "INV-PARTS", Decimal("-50.00")),
    ]
    assert march.closing == Decimal("0.00")
    assert "Payments are shown as the amount paid" in pdf_text(_pdf(march))


def _pdf(statement: Statement) -> bytes:
    from apps.credit.statement_pdf import statement_pdf

    return statement_pdf(statement)
