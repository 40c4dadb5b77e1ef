"""A buyer downloads a statement of account from the invoices page in Chromium: a period that ends before
it starts is refused on the form, the corrected one downloads as the PDF of the company's books."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from pypdf import PdfReader

from apps.accounts.models import Role
from tests.accounts.factories import PASSWORD, CompanyFactory, MembershipFactory, UserFactory
from tests.credit.factories import CreditAccountFactory, InvoiceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_buyer_downloads_last_months_statement_after_a_refused_period(live_server, page) -> None:  # type: ignore[no-untyped-def]
    company = CompanyFactory(name="Keystone Supply", erp_customer_code="C-7", time_zone="Europe/Berlin")
    CreditAccountFactory(company=company)
    InvoiceFactory(
        company=company, number="INV-E2E-1", invoice_date=date(2026, 5, 4), total_amount=Decimal("812.40")
    )
    InvoiceFactory(
        company=company, number="CN-E2E-1", invoice_date=date(2026, 5, 9), total_amount=Decimal("-12.40")
    )
    MembershipFactory(company=company, role=Role.BUYER, user=UserFactory(email="buyer@keystone.example"))
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("buyer@keystone.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()

    page.goto(f"{live_server.url}/invoices/")
    page.get_by_label("From").fill("2026-05-31")
    page.get_by_label("To").fill("2026-05-01")
    page.get_by_role("button", name="Download PDF").click()
    page.get_by_text("The period starts after it ends; swap the dates.").wait_for()

    page.get_by_label("From").fill("2026-05-01")
    page.get_by_label("To").fill("2026-05-31")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download PDF").click()
    download = downloading.value

    assert download.suggested_filename == "statement-C-7-20260501-20260531.pdf"
    with open(download.path(), "rb") as pdf:
        reader = PdfReader(BytesIO(pdf.read()))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Keystone Supply" in text
    assert "2026-05-04 Invoice INV-E2E-1 2026-06-03 812.40 812.40" in text
    assert "2026-05-09 Credit note CN-E2E-1 2026-06-08 -12.40 800.00" in text
    assert "2026-05-31 Closing balance 800.00" in text
