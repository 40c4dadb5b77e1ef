"""The approvers' page: offers waiting for a second approval with their discount, cost and margin; approve
and send back; who may see it (portal admins and the quote approvers group, never the offer's maker)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.quotes import services as quotes
from apps.quotes.models import Quote, QuoteEvent
from tests.accounts.factories import UserFactory
from tests.quotes.conftest import Team, refreshed, request_lines

Status = Quote.Status
D = Decimal


@pytest.fixture(autouse=True)
def threshold(team: Team, settings: Any) -> None:
    settings.QUOTE_DISCOUNT_APPROVAL_PERCENT = D("15")


def _waiting(team: Team, bolt: str = "4.0000") -> Quote:
    """A quote whose offer (the bolts 60 % below their price) waits for approval, valid for ten days."""
    quote = quotes.quote_request(
        company=team.company, buyer=team.buyer, message="", lines=request_lines(team)
    )
    quotes.quote_review(quote=quote, actor=team.manager)
    product = team.products[0]
    product.cost_price = D("3.0000")
    product.save()
    quotes.quote_offer(
        quote=quote,
        actor=team.manager,
        lines=[
            quotes.OfferedLine(product, D("100"), D(bolt)),
            quotes.OfferedLine(team.products[1], D("40"), D("2.4000")),
        ],
        valid_until=timezone.localdate() + timedelta(days=10),
        note="Volume deal",
    )
    return refreshed(quote)


def _signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_an_approver_sees_the_discount_cost_and_margin_of_each_line(client: Client, team: Team) -> None:
    quote = _waiting(team)

    html = _signed_in(client, team.approver).get(reverse("quote-approvals")).content.decode()

    assert f'data-quote="{quote.number}"' in html
    assert "Volume deal" in html
    bolt = html.split('data-sku="BOLT"')[1].split("</tr>")[0]
    assert "60%" in bolt  # 4.0000 against the company's 10.0000
    assert "25%" in bolt  # (4 - 3) / 4 over the ERP's cost
    nut = html.split('data-sku="NUT"')[1].split("</tr>")[0]
    assert "no cost from the ERP" in nut
    assert "4%" in nut


def test_the_maker_never_sees_their_own_offer_waiting(client: Client, team: Team) -> None:
    admin = UserFactory()
    staff_user_set_roles(user=admin, roles=[StaffRole.ADMIN])
    team.company.account_manager = admin
    team.company.save()
    quote = quotes.quote_request(
        company=team.company, buyer=team.buyer, message="", lines=request_lines(team)
    )
    quotes.quote_review(quote=quote, actor=admin)
    quotes.quote_offer(
        quote=quote,
        actor=admin,
        lines=[quotes.OfferedLine(team.products[0], D("100"), D("4.0000"))],
        valid_until=timezone.localdate() + timedelta(days=3),
    )

    html = _signed_in(client, admin).get(reverse("quote-approvals")).content.decode()

    assert quote.number not in html
    assert "No offer waits for your approval." in html


@pytest.mark.parametrize("who", ["manager", "buyer", "finance"])
def test_people_who_are_not_approvers_are_refused(client: Client, team: Team, who: str) -> None:
    quote = _waiting(team)
    users = {"manager": team.manager, "buyer": team.buyer}
    if who == "finance":
        users["finance"] = UserFactory()
        staff_user_set_roles(user=users["finance"], roles=[StaffRole.FINANCE])
    client = _signed_in(client, users[who])

    assert client.get(reverse("quote-approvals")).status_code == 403
    response = client.post(reverse("quote-approval-decision", args=[quote.pk]), {"decision": "approve"})

    assert response.status_code == 403
    assert refreshed(quote).status == Status.AWAITING_APPROVAL


def test_signed_out_goes_to_the_sign_in_page(client: Client, team: Team) -> None:
    response = client.get(reverse("quote-approvals"))

    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))


def test_approve_puts_the_offer_before_the_buyer(client: Client, team: Team) -> None:
    quote = _waiting(team)

    response = _signed_in(client, team.approver).post(
        reverse("quote-approval-decision", args=[quote.pk]),
        {"decision": "approve", "message": "Ok this once"},
        follow=True,
    )

    assert refreshed(quote).status == Status.OFFERED
    assert refreshed(quote).expires_at is not None
    assert f"{quote.number} approved" in response.content.decode()


def test_sending_back_needs_a_reason_and_without_one_changes_nothing(client: Client, team: Team) -> None:
    quote = _waiting(team)
    events = QuoteEvent.objects.filter(quote=quote).count()
    client = _signed_in(client, team.approver)

    response = client.post(
        reverse("quote-approval-decision", args=[quote.pk]),
        {"decision": "reject", "message": " "},
        follow=True,
    )

    assert "Say why" in response.content.decode()
    assert refreshed(quote).status == Status.AWAITING_APPROVAL
    assert QuoteEvent.objects.filter(quote=quote).count() == events

    client.post(
        reverse("quote-approval-decision", args=[quote.pk]), {"decision": "reject", "message": "Too deep"}
    )

    assert refreshed(quote).status == Status.IN_REVIEW


def test_a_decision_on_a_quote_no_longer_waiting_is_explained(client: Client, team: Team) -> None:
    quote = _waiting(team)
    quotes.quote_decline(quote=quote, actor=team.manager, message="Withdrawn")

    response = _signed_in(client, team.approver).post(
        reverse("quote-approval-decision", args=[quote.pk]), {"decision": "approve"}, follow=True
    )

    assert response.status_code == 200
    assert refreshed(quote).status == Status.DECLINED
    assert quote.number in response.content.decode()


def test_an_unknown_quote_is_404(client: Client, team: Team) -> None:
    response = _signed_in(client, team.approver).post(reverse("quote-approval-decision", args=[999999]), {})

    assert response.status_code == 404


def test_the_queue_reads_in_a_fixed_number_of_queries(
    client: Client, team: Team, django_assert_max_num_queries: Any
) -> None:
    for _ in range(6):
        _waiting(team)
    client = _signed_in(client, team.approver)

    with django_assert_max_num_queries(14):
        html = client.get(reverse("quote-approvals")).content.decode()

    assert html.count("data-quote=") == 6


def test_approvers_find_the_page_in_the_navigation(client: Client, team: Team) -> None:
    html = _signed_in(client, team.approver).get(reverse("quote-approvals")).content.decode()

    assert 'data-section="quote-approvals"' in html
    manager_home = _signed_in(Client(), team.manager).get(reverse("manager-home")).content.decode()
    assert 'data-section="quote-approvals"' not in manager_home
