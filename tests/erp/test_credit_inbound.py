"""Inbound credit data: invoices mirrored and linked to orders, payment terms, holds set in the ERP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from apps.accounts.erp import CUSTOMERS
from apps.accounts.exceptions import MembershipError
from apps.accounts.models import Company, Role
from apps.accounts.services import company_hold_lift, company_hold_put
from apps.credit.erp import INVOICES
from apps.credit.models import CreditAccount, Invoice, InvoicePayment, PaymentTerm
from apps.erp import inbound, services
from apps.erp.connectors.base import CustomerRecord, InvoiceLineRecord, InvoicePaymentRecord, InvoiceRecord
from apps.erp.models import ErpConnection, SyncEvent
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import CompanyFactory, MembershipFactory
from tests.catalog.factories import ProductFactory

STAMP = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def connection(db: None) -> ErpConnection:
    return services.connection_get_default()


@pytest.fixture
def acme(db: None) -> Company:
    return CompanyFactory(name="Acme", erp_customer_code="CUST-001", erp_party_id="7")


def _customer(**overrides: object) -> CustomerRecord:
    values: dict[str, object] = {
        "erp_id": "7",
        "code": "CUST-001",
        "name": "Acme",
        "addresses": [],
        "payment_term_id": "3",
        "payment_term_name": "Net 30",
        "payment_term_days": 30,
        "credit_limit": D("25000.00"),
        "changed_at": STAMP,
    }
    values.update(overrides)
    return CustomerRecord(**values)  # type: ignore[arg-type]


def _invoice(**overrides: object) -> InvoiceRecord:
    values: dict[str, object] = {
        "erp_id": "101",
        "customer_erp_id": "7",
        "number": "INV/2026/00001",
        "invoice_date": date(2026, 10, 1),
        "due_date": date(2026, 10, 31),
        "currency": "USD",
        "total_amount": D("1200.00"),
        "amount_paid": D("0.00"),
        "state": "posted",
        "sale_references": ["PO-7"],
        "changed_at": STAMP,
    }
    values.update(overrides)
    return InvoiceRecord(**values)  # type: ignore[arg-type]


def _order(company: Company, number: str) -> PurchaseOrder:
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    return PurchaseOrder.objects.create(
        company=company, buyer=buyer, customer_po_number=number, status=PurchaseOrder.Status.INVOICED
    )


def test_invoices_are_mirrored_and_linked_to_the_orders_they_bill(
    connection: ErpConnection, acme: Company
) -> None:
    order = _order(acme, "PO-7")
    other = CompanyFactory(erp_party_id="8")
    _order(other, "PO-7")  # same PO number at another customer: not this invoice's order

    changed = inbound.apply_page(
        connection=connection,
        stream=INVOICES,
        records=[_invoice(), _invoice(erp_id="102", customer_erp_id="999")],
    )

    invoice = Invoice.objects.get()
    assert changed == 1  # the unknown customer's invoice is left out
    assert (invoice.company, invoice.number, invoice.due_date, invoice.total_amount, invoice.amount_paid) == (
        acme,
        "INV/2026/00001",
        date(2026, 10, 31),
        D("1200.00"),
        D("0.00"),
    )
    assert list(invoice.purchase_orders.all()) == [order]
    assert SyncEvent.objects.filter(target_id=str(invoice.pk), outcome=SyncEvent.Outcome.CREATED).count() == 1


def test_a_payment_updates_the_mirror_and_says_so(connection: ErpConnection, acme: Company) -> None:
    inbound.apply_page(connection=connection, stream=INVOICES, records=[_invoice()])

    again = inbound.apply_page(
        connection=connection, stream=INVOICES, records=[_invoice()]
    )  # the overlap window reads it again
    paid = inbound.apply_page(
        connection=connection, stream=INVOICES, records=[_invoice(amount_paid=D("1200.00"), state="paid")]
    )

    invoice = Invoice.objects.get()
    assert (again, paid) == (0, 1)
    assert (invoice.state, invoice.amount_paid, invoice.amount_due) == ("paid", D("1200.00"), D("0.00"))
    event = SyncEvent.objects.filter(target_id=str(invoice.pk)).order_by("-id").first()
    assert event is not None
    assert event.message == "invoice INV/2026/00001: open → paid; paid 0.00 → 1200.00"


def test_payment_term_days_are_mirrored(connection: ErpConnection, acme: Company) -> None:
    inbound.apply_page(connection=connection, stream=CUSTOMERS, records=[_customer()])
    inbound.apply_page(
        connection=connection,
        stream=CUSTOMERS,
        records=[_customer(payment_term_name="Prepaid", payment_term_days=0)],
    )

    term = PaymentTerm.objects.get(erp_id="3")
    assert (term.name, term.net_days, term.is_prepaid) == ("Prepaid", 0, True)
    assert CreditAccount.objects.get(company=acme).credit_limit == D("25000.00")


def test_a_hold_set_in_the_erp_holds_the_company_and_lifting_it_there_releases_it(
    connection: ErpConnection, acme: Company
) -> None:
    reason = 'On credit hold in the ERP (party category "Credit hold")'

    inbound.apply_page(
        connection=connection, stream=CUSTOMERS, records=[_customer(on_hold=True, hold_reason=reason)]
    )
    acme.refresh_from_db()
    held = (acme.status, acme.hold_source, acme.hold_reason)
    with pytest.raises(MembershipError, match="lift the hold there"):
        company_hold_lift(company=acme)
    inbound.apply_page(connection=connection, stream=CUSTOMERS, records=[_customer(on_hold=False)])
    acme.refresh_from_db()

    assert held == (Company.Status.ON_HOLD, Company.HoldSource.ERP, reason)
    assert (acme.status, acme.hold_source, acme.hold_reason) == (Company.Status.ACTIVE, "", "")
    messages = list(SyncEvent.objects.filter(target_id=str(acme.pk)).values_list("message", flat=True))
    assert any("put on hold by the ERP" in message for message in messages)
    assert any("hold lifted in the ERP" in message for message in messages)


def test_the_erp_never_lifts_a_hold_finance_set_in_the_portal(
    connection: ErpConnection, acme: Company
) -> None:
    company_hold_put(company=acme, reason="cheque bounced")

    inbound.apply_page(connection=connection, stream=CUSTOMERS, records=[_customer(on_hold=False)])
    inbound.apply_page(
        connection=connection, stream=CUSTOMERS, records=[_customer(on_hold=True, hold_reason="ERP hold")]
    )

    acme.refresh_from_db()
    assert (acme.status, acme.hold_source, acme.hold_reason) == (
        Company.Status.ON_HOLD,
        Company.HoldSource.PORTAL,
        "cheque bounced",
    )


def test_a_renamed_hold_category_updates_the_reason_and_says_so(
    connection: ErpConnection, acme: Company
) -> None:
    inbound.apply_page(
        connection=connection,
        stream=CUSTOMERS,
        records=[_customer(on_hold=True, hold_reason="ERP hold (category A)")],
    )

    inbound.apply_page(
        connection=connection,
        stream=CUSTOMERS,
        records=[_customer(on_hold=True, hold_reason="ERP hold (category B)")],
    )

    acme.refresh_from_db()
    assert (acme.status, acme.hold_source, acme.hold_reason) == (
        Company.Status.ON_HOLD,
        Company.HoldSource.ERP,
        "ERP hold (category B)",
    )
    messages = list(
        SyncEvent.objects.filter(target_id=str(acme.pk)).order_by("id").values_list("message", flat=True)
    )
    assert "hold reason changed in the ERP" in messages[-1]


def test_what_accounts_and_credit_apply_from_one_customer_is_one_timeline_event(
    connection: ErpConnection, acme: Company
) -> None:
    inbound.apply_page(connection=connection, stream=CUSTOMERS, records=[_customer()])
    SyncEvent.objects.all().delete()

    changed = inbound.apply_page(
        connection=connection,
        stream=CUSTOMERS,
        records=[
            _customer(name="Acme Inc", credit_limit=D("30000.00"), on_hold=True, hold_reason="ERP hold")
        ],
    )

    event = SyncEvent.objects.get()
    assert changed == 1
    assert event.target_id == str(acme.pk)
    assert event.outcome == SyncEvent.Outcome.UPDATED
    assert event.message == "name; put on hold by the ERP; credit limit 25000.00 → 30000.00"


def _lines(invoice: Invoice) -> list[tuple[object, ...]]:
    return [
        (
            line.position,
            line.product_id,
            line.sku,
            line.description,
            line.quantity,
            line.unit_price,
            line.amount,
        )
        for line in invoice.lines.all()
    ]


def test_invoice_lines_are_stored_matched_to_products_and_replaced_as_a_whole(
    connection: ErpConnection, acme: Company
) -> None:
    bolt = ProductFactory(erp_id="55", sku="BOLT")
    lines = [
        InvoiceLineRecord("55", "BOLT", "Bolt M8", D("10.0"), D("12.345"), D("123.45")),
        InvoiceLineRecord("", "", "Freight", D("1"), D("15.00"), D("15.00")),
        InvoiceLineRecord("404", "GONE", "Withdrawn part", D("2"), D("1"), D("2.00")),
    ]
    inbound.apply_page(connection=connection, stream=INVOICES, records=[_invoice(lines=lines)])
    invoice = Invoice.objects.get()
    first_ids = list(invoice.lines.values_list("pk", flat=True))

    again = inbound.apply_page(connection=connection, stream=INVOICES, records=[_invoice(lines=lines)])
    unread = inbound.apply_page(connection=connection, stream=INVOICES, records=[_invoice()])

    assert (again, unread) == (0, 0)
    assert list(invoice.lines.values_list("pk", flat=True)) == first_ids
    assert _lines(invoice) == [
        (1, bolt.pk, "BOLT", "Bolt M8", D("10"), D("12.3450"), D("123.45")),
        (2, None, "", "Freight", D("1"), D("15.0000"), D("15.00")),
        (3, None, "GONE", "Withdrawn part", D("2"), D("1.0000"), D("2.00")),
    ]

    changed = inbound.apply_page(connection=connection, stream=INVOICES, records=[_invoice(lines=[lines[1]])])

    assert changed == 1
    assert _lines(invoice) == [(1, None, "", "Freight", D("1"), D("15.0000"), D("15.00"))]


def test_invoice_payments_are_stored_and_replaced_as_a_whole(
    connection: ErpConnection, acme: Company
) -> None:
    payments = [
        InvoicePaymentRecord(date(2026, 10, 5), D("200.00"), "MOVE/0005"),
        InvoicePaymentRecord(date(2026, 10, 20), D("300.5"), "MOVE/0020"),
    ]
    record = _invoice(amount_paid=D("500.50"), payments=payments)
    inbound.apply_page(connection=connection, stream=INVOICES, records=[record])
    invoice = Invoice.objects.get()
    first_ids = list(InvoicePayment.objects.values_list("pk", flat=True))

    again = inbound.apply_page(connection=connection, stream=INVOICES, records=[record])
    unread = inbound.apply_page(
        connection=connection, stream=INVOICES, records=[_invoice(amount_paid=D("500.50"))]
    )

    assert (again, unread) == (0, 0)
    assert list(InvoicePayment.objects.values_list("pk", flat=True)) == first_ids
    assert list(invoice.payments.values_list("paid_on", "amount", "reference")) == [
        (date(2026, 10, 5), D("200.00"), "MOVE/0005"),
        (date(2026, 10, 20), D("300.50"), "MOVE/0020"),
    ]

    changed = inbound.apply_page(
        connection=connection,
        stream=INVOICES,
        records=[_invoice(amount_paid=D("500.50"), payments=payments[1:])],
    )
    emptied = inbound.apply_page(
        connection=connection, stream=INVOICES, records=[_invoice(amount_paid=D("500.50"), payments=[])]
    )

    assert (changed, emptied) == (1, 1)
    assert not InvoicePayment.objects.exists()
