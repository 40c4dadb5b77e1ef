"""A company with its account manager and buyer, products, and quotes in any state, made through the
services (``quote_in``) so each state is one the portal can really reach."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User

from apps.accounts.models import Company, Role, StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.catalog.models import Product
from apps.quotes import services as quotes
from apps.quotes.models import Quote, QuoteVersion
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory, UserFactory
from tests.catalog.factories import ProductFactory

D = Decimal
Status = Quote.Status
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=ZoneInfo("UTC"))  # any fixed moment: tests pass ``now``
VALID_UNTIL = date(2026, 6, 30)


@dataclass
class Team:
    company: Company
    manager: User
    buyer: User
    products: list[Product]
    approver: User  # an active member of the quote approvers group, not a manager


DEEP_BOLT = "4.0000"  # 60 % below the bolt's list price: past any threshold the tests set


@pytest.fixture
def team(db: None, settings: Any) -> Team:
    # The negotiation tests offer up to 30 % below list without a second approval; test_approval.py sets
    # the threshold it tests.
    settings.QUOTE_DISCOUNT_APPROVAL_PERCENT = D("50")
    manager = UserFactory(email="manager@wholesaler.example")
    staff_user_set_roles(user=manager, roles=[StaffRole.ACCOUNT_MANAGER])
    company = CompanyFactory(name="Acme", account_manager=manager)
    ShipToAddressFactory(company=company, is_default=True)
    buyer = MembershipFactory(
        company=company, role=Role.BUYER, user=UserFactory(email="buyer@acme.example")
    ).user
    products = [
        ProductFactory(sku="BOLT", list_price=D("10.0000")),
        ProductFactory(sku="NUT", list_price=D("2.5000")),
    ]
    approver = UserFactory(email="approver@wholesaler.example")
    approver.groups.add(Group.objects.get_or_create(name=settings.QUOTE_DISCOUNT_APPROVERS_GROUP)[0])
    return Team(company, manager, buyer, products, approver)


def request_lines(team: Team) -> list[quotes.RequestedLine]:
    return [quotes.RequestedLine(team.products[0], D("100")), quotes.RequestedLine(team.products[1], D("40"))]


def offer_lines(team: Team, bolt: str = "8.5000", nut: str = "2.1000") -> list[quotes.OfferedLine]:
    return [
        quotes.OfferedLine(team.products[0], D("100"), D(bolt), breaks=[(D("500"), D("8.0000"))]),
        quotes.OfferedLine(team.products[1], D("40"), D(nut)),
    ]


def offer(
    team: Team, quote: Quote, now: datetime = NOW, valid_until: date = VALID_UNTIL, **prices: str
) -> QuoteVersion:
    return quotes.quote_offer(
        quote=quote, actor=team.manager, lines=offer_lines(team, **prices), valid_until=valid_until, now=now
    )


@pytest.fixture
def quote_in(team: Team) -> Callable[[Status], Quote]:
    """A quote brought to ``status`` through the services, at ``NOW``."""

    def make(status: Status) -> Quote:
        if status == Status.DRAFT:
            return quotes.quote_start(company=team.company, manager=team.manager, lines=request_lines(team))
        quote = quotes.quote_request(
            company=team.company, buyer=team.buyer, message="Best price?", lines=request_lines(team), now=NOW
        )
        if status == Status.SUBMITTED:
            return quote
        quotes.quote_review(quote=quote, actor=team.manager, now=NOW)
        if status == Status.IN_REVIEW:
            return refreshed(quote)
        if status == Status.AWAITING_APPROVAL:
            offer(team, quote, bolt=DEEP_BOLT)
            return refreshed(quote)
        offer(team, quote)
        if status == Status.OFFERED:
            return refreshed(quote)
        if status == Status.ACCEPTED:  # only ever passed through inside quote_accept; set for the table
            Quote.objects.filter(pk=quote.pk).update(status=Status.ACCEPTED, expires_at=None)
            return refreshed(quote)
        if status == Status.ORDERED:
            return quotes.quote_accept(quote=quote, actor=team.buyer, now=NOW)
        if status == Status.CLOSED:
            return quotes.quote_close(quote=quote, actor=team.buyer, now=NOW)
        if status == Status.DECLINED:
            return quotes.quote_decline(quote=quote, actor=team.manager, message="No stock", now=NOW)
        assert status == Status.EXPIRED
        return quotes.quote_expire(quote=quote, now=NOW + timedelta(days=60))

    return make


def refreshed(quote: Quote) -> Quote:
    return Quote.objects.get(pk=quote.pk)


@pytest.fixture
def other_company_buyer(db: None) -> User:
    other = CompanyFactory(name="Globex")
    return MembershipFactory(
        company=other, role=Role.BUYER, user=UserFactory(email="buyer@globex.example")
    ).user
