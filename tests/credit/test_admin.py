"""The admin shows a mirrored invoice with its lines and payments, read only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.test import Client

from apps.credit.models import Invoice
from tests.accounts.factories import CompanyFactory, UserFactory


def test_the_admin_shows_an_invoices_lines_read_only(db: None) -> None:
    invoice = Invoice.objects.create(
        company=CompanyFactory(), erp_id="9", number="INV/9", total_amount=Decimal("5.00"), state="posted"
    )
    invoice.lines.create(
        position=1, sku="BOLT-X", description="Hex bolt", quantity=10, unit_price=Decimal("0.5"), amount=5
    )
    invoice.payments.create(paid_on=date(2026, 11, 3), amount=Decimal("2.50"), reference="PAY/0042")
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(f"/django-admin/credit/invoice/{invoice.pk}/change/").content.decode()

    assert "BOLT-X" in page
    assert "Hex bolt" in page
    assert 'name="lines-0-sku"' not in page  # shown, not editable
    assert "PAY/0042" in page
    assert 'name="payments-0-reference"' not in page
