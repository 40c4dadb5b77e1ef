"""Statements and invoice documents against the real Tryton 8.2: invoices posted and paid in the ERP,
mirrored by the invoice pull, make the statement's lines and balances; an invoice's own document is the
ERP's report (OpenDocument: the local ERP has no LibreOffice to convert it to PDF)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from zipfile import ZipFile

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company, Membership, Role
from apps.credit.erp import INVOICES
from apps.credit.models import Invoice, InvoicePayment
from apps.erp import inbound
from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.models import ErpConnection
from tests.erp_fixtures import erp_invoice_create, erp_invoice_pay
from tools.tryton import erp

ACME = "CUST-001"


def _pull(connection: ErpConnection, connector: TrytonConnector, stream: str) -> None:
    report = inbound.pull_stream(connection=connection, stream=stream, connector=connector)
    assert report.error == ""


def _text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages).split())


def test_a_statement_of_invoices_posted_and_paid_in_tryton(
    erp_connection: ErpConnection,
    connector: TrytonConnector,
    erp_admin: TrytonClient,
    member_factory: Callable[..., Membership],
    client: Client,
) -> None:
    erp_admin.login()
    _pull(erp_connection, connector, CUSTOMERS)
    acme = Company.objects.get(erp_customer_code=ACME)
    acme.time_zone = "UTC"  # the ERP's day
    acme.save()
    today = datetime.now(tz=UTC).date()
    party = int(acme.erp_party_id)
    paid = erp_invoice_create(erp_admin, party_id=party, amount=Decimal("210.00"), invoice_date=today)
    part = erp_invoice_create(erp_admin, party_id=party, amount=Decimal("99.50"), invoice_date=today)
    credit = erp_invoice_create(erp_admin, party_id=party, amount=Decimal("-15.25"), invoice_date=today)
    erp_invoice_pay(erp_admin, paid, Decimal("210.00"), on=today)
    erp_invoice_pay(erp_admin, part, Decimal("40.00"), on=today)
    _pull(erp_connection, connector, INVOICES)
    mirrored = {invoice.erp_id: invoice for invoice in Invoice.objects.filter(company=acme)}
    number = {key: mirrored[str(key)].number for key in (paid, part, credit)}
    assert mirrored[str(paid)].state == Invoice.State.PAID
    assert mirrored[str(part)].amount_paid == Decimal("40.00")
    client.force_login(member_factory(acme, Role.BUYER).user)

    response = client.get(reverse("buyer-statement"), {"start": today.isoformat(), "end": today.isoformat()})

    assert response["Content-Type"] == "application/pdf"
    text = _text(response.content)
    day = f"{today:%Y-%m-%d}"
    assert f"{day} Opening balance 0.00" in text
    assert f"Invoice {number[paid]} " in text
    assert f"Invoice {number[part]} " in text
    assert f"Credit note {number[credit]} " in text
    assert f"Payment {number[paid]} -210.00" in text
    assert f"Payment {number[part]} -40.00" in text
    assert f"{day} Closing balance 44.25" in text  # 210 + 99.50 - 15.25 - 210 - 40
    assert "Current 3 44.25" not in text  # the paid invoice is not open: two documents are
    assert "Current 2 44.25" in text
    assert "Customer code: CUST-001" in text

    # The invoice's own document, as the ERP renders it.
    document = client.get(reverse("buyer-invoice-document", args=[mirrored[str(part)].pk]))
    assert document.status_code == 200
    assert document["Content-Type"] == "application/vnd.oasis.opendocument.text"
    stem = number[part].replace("/", "-")
    assert document["Content-Disposition"] == f'attachment; filename="{stem}.odt"'
    with ZipFile(BytesIO(document.content)) as odt:
        assert odt.read("mimetype") == b"application/vnd.oasis.opendocument.text"
        assert number[part].encode() in odt.read("content.xml")
    page = client.get(reverse("buyer-invoices")).content.decode()
    assert reverse("buyer-invoice-document", args=[mirrored[str(part)].pk]) in page


def test_an_invoice_paid_in_two_parts_is_two_payments_each_on_its_day(
    erp_connection: ErpConnection,
    connector: TrytonConnector,
    erp_admin: TrytonClient,
    member_factory: Callable[..., Membership],
    client: Client,
) -> None:
    """Tryton's payment lines come with the invoice pull: each part payment is its own statement line on
    the day it was booked, and a period that starts between them carries the first in its opening
    balance."""
    erp_admin.login()
    _pull(erp_connection, connector, CUSTOMERS)
    acme = Company.objects.get(erp_customer_code=ACME)
    acme.time_zone = "UTC"  # the ERP's day
    acme.save()
    today = datetime.now(tz=UTC).date()
    issued, first, second = today - timedelta(days=20), today - timedelta(days=15), today - timedelta(days=5)
    invoice_id = erp_invoice_create(
        erp_admin, party_id=int(acme.erp_party_id), amount=Decimal("300.00"), invoice_date=issued
    )
    erp_invoice_pay(erp_admin, invoice_id, Decimal("120.00"), on=first)
    erp_invoice_pay(erp_admin, invoice_id, Decimal("180.00"), on=second)
    _pull(erp_connection, connector, INVOICES)
    invoice = Invoice.objects.get(erp_id=str(invoice_id))
    assert (invoice.state, invoice.amount_paid) == (Invoice.State.PAID, Decimal("300.00"))
    payments = list(InvoicePayment.objects.filter(invoice=invoice).order_by("paid_on"))
    assert [(p.paid_on, p.amount) for p in payments] == [
        (first, Decimal("120.00")),
        (second, Decimal("180.00")),
    ]
    assert all(p.reference for p in payments)
    client.force_login(member_factory(acme, Role.BUYER).user)
    number = invoice.number

    whole = _text(
        client.get(
            reverse("buyer-statement"), {"start": issued.isoformat(), "end": today.isoformat()}
        ).content
    )

    assert f"{issued:%Y-%m-%d} Opening balance 0.00" in whole
    assert f"{issued:%Y-%m-%d} Invoice {number} " in whole
    assert f"{first:%Y-%m-%d} Payment {number} -120.00 180.00" in whole
    assert f"{second:%Y-%m-%d} Payment {number} -180.00 0.00" in whole
    assert f"{today:%Y-%m-%d} Closing balance 0.00" in whole
    assert "Payments are shown as the amount paid" not in whole  # none derived

    later = _text(
        client.get(
            reverse("buyer-statement"),
            {"start": (first + timedelta(days=1)).isoformat(), "end": today.isoformat()},
        ).content
    )

    assert f"{first + timedelta(days=1):%Y-%m-%d} Opening balance 180.00" in later
    assert f"Invoice {number}" not in later
    assert "-120.00" not in later
    assert f"{second:%Y-%m-%d} Payment {number} -180.00 0.00" in later
    assert f"{today:%Y-%m-%d} Closing balance 0.00" in later

    earlier = _text(
        client.get(
            reverse("buyer-statement"), {"start": issued.isoformat(), "end": first.isoformat()}
        ).content
    )
    assert f"{first:%Y-%m-%d} Payment {number} -120.00 180.00" in earlier
    assert "-180.00" not in earlier
    assert f"{first:%Y-%m-%d} Closing balance 180.00" in earlier


def test_an_erp_that_cannot_answer_is_a_message_not_an_error(
    erp_connection: ErpConnection,
    connector: TrytonConnector,
    erp_admin: TrytonClient,
    erp_server: erp.ErpServer,
    member_factory: Callable[..., Membership],
    client: Client,
) -> None:
    erp_admin.login()
    _pull(erp_connection, connector, CUSTOMERS)
    acme = Company.objects.get(erp_customer_code=ACME)
    today = datetime.now(tz=UTC).date()
    erp_invoice_create(
        erp_admin, party_id=int(acme.erp_party_id), amount=Decimal("10.00"), invoice_date=today
    )
    _pull(erp_connection, connector, INVOICES)
    invoice = Invoice.objects.get(company=acme)
    client.force_login(member_factory(acme, Role.VIEWER).user)
    erp_server.stop()

    response = client.get(reverse("buyer-invoice-document", args=[invoice.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("buyer-invoices")
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith(f"The ERP could not give invoice {invoice.number}'s document: ")
    assert "unreachable" in message or "could not be reached" in message


@pytest.mark.parametrize("state", [Invoice.State.DRAFT, Invoice.State.CANCELLED])
def test_an_invoice_not_posted_has_no_document(
    erp_connection: ErpConnection,
    company: Company,
    member_factory: Callable[..., Membership],
    client: Client,
    state: str,
) -> None:
    from tests.credit.factories import InvoiceFactory

    invoice = InvoiceFactory(company=company, state=state)
    client.force_login(member_factory(company, Role.BUYER).user)

    response = client.get(reverse("buyer-invoice-document", args=[invoice.pk]), follow=True)

    assert "is not posted yet: it has no document" in response.content.decode()
