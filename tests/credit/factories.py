from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory

from apps.credit.models import CreditAccount, Invoice, PaymentTerm
from tests.accounts.factories import CompanyFactory


class PaymentTermFactory(factory.django.DjangoModelFactory[PaymentTerm]):
    class Meta:
        model = PaymentTerm
        django_get_or_create = ("erp_id",)

    erp_id = factory.Sequence(lambda n: f"term-{n}")
    name = factory.LazyAttribute(lambda term: f"Net {term.net_days}")
    net_days = 30


class CreditAccountFactory(factory.django.DjangoModelFactory[CreditAccount]):
    class Meta:
        model = CreditAccount

    company = factory.SubFactory(CompanyFactory)
    payment_term = factory.SubFactory(PaymentTermFactory)
    credit_limit = Decimal("1000.00")


class InvoiceFactory(factory.django.DjangoModelFactory[Invoice]):
    """An open (posted) invoice, due on ``due_date`` (default: 30 days after ``invoice_date``)."""

    class Meta:
        model = Invoice

    company = factory.SubFactory(CompanyFactory)
    erp_id = factory.Sequence(lambda n: f"inv-{n}")
    number = factory.Sequence(lambda n: f"INV-{n:05d}")
    invoice_date = date(2026, 1, 1)
    due_date = factory.LazyAttribute(lambda invoice: invoice.invoice_date + timedelta(days=30))
    total_amount = Decimal("100.00")
    amount_paid = Decimal("0.00")
    state = Invoice.State.POSTED
