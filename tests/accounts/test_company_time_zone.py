"""A company's own time zone: chosen when the account is opened, changed by the company's admin, checked on
the way in, and the day a new quote's offers run out in."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Company, Membership, StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.core.timezones import validate_time_zone
from apps.quotes import services as quotes
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.catalog.factories import ProductFactory

PROFILE = {"phone": "555-0100", "billing_email": "ap@acme.example", "website": ""}


def test_a_new_company_counts_its_days_in_the_portals_time_zone(settings: object, db: None) -> None:
    settings.TIME_ZONE = "America/Chicago"  # type: ignore[attr-defined]

    assert Company.objects.create(name="Chicago Supply").time_zone == "America/Chicago"


def test_the_company_admin_sets_the_time_zone(client: Client, company_admin: Membership) -> None:
    client.force_login(company_admin.user)

    response = client.post(reverse("company-profile-edit"), {**PROFILE, "time_zone": "Asia/Tokyo"})

    assert response.status_code == 302
    company_admin.company.refresh_from_db()
    assert company_admin.company.time_zone == "Asia/Tokyo"
    assert "Asia/Tokyo" in client.get(reverse("company-profile")).content.decode()


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "", "EST5EDT; DROP TABLE"])
def test_a_time_zone_that_is_not_one_is_refused_and_nothing_changes(
    client: Client, company_admin: Membership, bad: str
) -> None:
    client.force_login(company_admin.user)
    company = company_admin.company
    before = (company.time_zone, company.phone)

    response = client.post(reverse("company-profile-edit"), {**PROFILE, "time_zone": bad})

    assert response.status_code == 200
    assert "time zone" in response.content.decode().lower()
    company.refresh_from_db()
    assert (company.time_zone, company.phone) == before


def test_the_model_refuses_an_unknown_zone() -> None:
    with pytest.raises(Exception, match="not a time zone"):
        validate_time_zone("Europe/Atlantis")


def test_an_account_manager_opens_an_account_in_its_time_zone(client: Client, db: None) -> None:
    manager = UserFactory()
    staff_user_set_roles(user=manager, roles=[StaffRole.ACCOUNT_MANAGER])
    client.force_login(manager)

    client.post(
        reverse("manager-company-create"),
        {"name": "Tokyo Tools KK", "country": "JP", "time_zone": "Asia/Tokyo"},
    )

    assert Company.objects.get(name="Tokyo Tools KK").time_zone == "Asia/Tokyo"


def test_a_quote_keeps_the_time_zone_it_was_made_in(company: Company, db: None) -> None:
    """An offer's day is the company's when the quote was made; a later change of zone does not move it."""
    company.time_zone = "Asia/Tokyo"
    company.save()
    buyer = MembershipFactory(company=company, role="buyer").user
    product = ProductFactory()
    asked = datetime.fromisoformat("2026-07-01T12:00:00+00:00")

    quote = quotes.quote_request(
        company=company,
        buyer=buyer,
        message="",
        lines=[quotes.RequestedLine(product, Decimal(5))],
        wanted_date=date(2026, 7, 20),
        now=asked,
    )
    company.time_zone = "America/Los_Angeles"
    company.save()

    quote.refresh_from_db()
    assert quote.time_zone == "Asia/Tokyo"
