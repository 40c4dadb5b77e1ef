"""Emails on each turn: the side whose turn it becomes (or both, when the portal expires an offer or the
quote becomes an order) hears of it, after the commit; a refused action sends nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core import mail

from apps.accounts.models import Company, Role, StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.quotes import services as quotes
from apps.quotes.exceptions import NotYourTurn, QuoteError
from apps.quotes.models import Quote
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.quotes.conftest import DEEP_BOLT, NOW, Team, offer, refreshed, request_lines

Status = Quote.Status
BUYERS = ["admin@acme.example", "buyer@acme.example"]
MANAGER = ["manager@wholesaler.example"]


@pytest.fixture
def committed(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Run on-commit work (emails) as each service returns, as a committed transaction would."""

    def run(call, **kwargs):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            return call(**kwargs)

    return run


@pytest.fixture
def contacts(team: Team) -> None:
    """Who hears on the buyer side: buyers and admins; approvers and viewers do not negotiate."""
    MembershipFactory(company=team.company, role=Role.ADMIN, user=UserFactory(email="admin@acme.example"))
    MembershipFactory(company=team.company, role=Role.VIEWER, user=UserFactory(email="viewer@acme.example"))
    MembershipFactory(company=team.company, role=Role.APPROVER, user=UserFactory(email="appr@acme.example"))


def _sent() -> list[tuple[str, list[str]]]:
    sent = [(message.subject, sorted(message.to)) for message in mail.outbox]
    mail.outbox.clear()
    return sent


def test_each_turn_mails_the_other_side(team: Team, contacts: None, committed) -> None:  # type: ignore[no-untyped-def]
    quote = committed(
        quotes.quote_request,
        company=team.company,
        buyer=team.buyer,
        message="Best price?",
        lines=request_lines(team),
        now=NOW,
    )
    number = quote.number
    assert _sent() == [(f"Quote {number} asks for a quote", MANAGER)]

    committed(quotes.quote_review, quote=quote, actor=team.manager, now=NOW)
    assert _sent() == []  # the seller took it up: still the seller's turn

    committed(offer, team=team, quote=quote)
    assert _sent() == [(f"Quote {number} has an offer for you", BUYERS)]

    committed(quotes.quote_counter, quote=quote, actor=team.buyer, message="8 for bolts?", now=NOW)
    (message,) = mail.outbox
    body = message.body
    assert _sent() == [(f"Quote {number} countered the offer", MANAGER)]
    assert "8 for bolts?" in body
    assert f"/quotes/{quote.pk}/" in body
    assert "now in review" in body

    committed(offer, team=team, quote=quote)
    _sent()
    committed(quotes.quote_accept, quote=quote, actor=team.buyer, now=NOW)
    subjects = _sent()
    assert (f"Quote {number} was accepted and ordered", sorted([*BUYERS, *MANAGER])) in subjects


def test_decline_close_and_expiry(
    team: Team, contacts: None, committed, quote_in: Callable[[Status], Quote]
) -> None:  # type: ignore[no-untyped-def]
    declined = quote_in(Status.IN_REVIEW)
    closed = quote_in(Status.OFFERED)
    expiring = quote_in(Status.OFFERED)
    mail.outbox.clear()

    committed(quotes.quote_decline, quote=declined, actor=team.manager, message="No stock", now=NOW)
    committed(quotes.quote_close, quote=closed, actor=team.buyer, now=NOW)
    committed(quotes.quote_expire, quote=expiring, now=NOW + timedelta(days=60))

    assert _sent() == [
        (f"Quote {declined.number} was declined", BUYERS),
        (f"Quote {closed.number} was closed by the buyer", MANAGER),
        (f"Quote {expiring.number} expired", sorted([*BUYERS, *MANAGER])),
    ]


def test_a_refused_action_sends_nothing(
    team: Team, contacts: None, committed, quote_in: Callable[[Status], Quote]
) -> None:  # type: ignore[no-untyped-def]
    quote = quote_in(Status.IN_REVIEW)
    mail.outbox.clear()

    with pytest.raises(NotYourTurn):
        committed(quotes.quote_close, quote=quote, actor=team.buyer, now=NOW)
    with pytest.raises(QuoteError):
        committed(quotes.quote_decline, quote=quote, actor=team.manager, message=" ", now=NOW)
    with pytest.raises(QuoteError):
        committed(
            quotes.quote_offer, quote=quote, actor=team.manager, lines=[], valid_until=NOW.date(), now=NOW
        )

    assert mail.outbox == []
    assert refreshed(quote).status == Status.IN_REVIEW


def test_an_order_that_cannot_be_placed_sends_nothing(
    team: Team, contacts: None, committed, quote_in: Callable[[Status], Quote]
) -> None:  # type: ignore[no-untyped-def]
    quote = quote_in(Status.OFFERED)
    Company.objects.filter(pk=team.company.pk).update(status=Company.Status.ON_HOLD, hold_reason="Past due")
    mail.outbox.clear()

    with pytest.raises(QuoteError):
        committed(quotes.quote_accept, quote=quote, actor=team.buyer, now=NOW)

    assert mail.outbox == []
    assert refreshed(quote).status == Status.OFFERED


def test_no_account_manager_mails_the_portal_admins(team: Team, committed) -> None:  # type: ignore[no-untyped-def]
    admin = UserFactory(email="portal-admin@wholesaler.example")
    staff_user_set_roles(user=admin, roles=[StaffRole.ADMIN])
    team.company.account_manager = None
    team.company.save()

    committed(
        quotes.quote_request,
        company=team.company,
        buyer=team.buyer,
        message="",
        lines=request_lines(team),
        now=NOW,
    )

    assert [sorted(message.to) for message in mail.outbox] == [["portal-admin@wholesaler.example"]]


# --- The second approval ----------------------------------------------------------------------------------


@pytest.fixture
def deep(team: Team, settings, quote_in: Callable[[Status], Quote]) -> Quote:  # type: ignore[no-untyped-def]
    """A quote in review, the threshold at 15 %, portal admins besides the approvers group."""
    settings.QUOTE_DISCOUNT_APPROVAL_PERCENT = 15
    admin = UserFactory(email="portal-admin@wholesaler.example")
    staff_user_set_roles(user=admin, roles=[StaffRole.ADMIN])
    quote = quote_in(Status.IN_REVIEW)
    mail.outbox.clear()
    return quote


def test_an_offer_waiting_for_approval_mails_the_approvers_not_its_maker_nor_the_buyer(
    team: Team, contacts: None, committed, deep: Quote
) -> None:  # type: ignore[no-untyped-def]
    committed(offer, team=team, quote=deep, bolt=DEEP_BOLT)

    [(subject, to)] = _sent()
    assert subject == f"Quote {deep.number} v1 waits for your approval"
    assert to == ["approver@wholesaler.example", "portal-admin@wholesaler.example"]


def test_the_maker_hears_of_the_approval_and_the_buyer_of_the_offer(
    team: Team, contacts: None, committed, deep: Quote
) -> None:  # type: ignore[no-untyped-def]
    committed(offer, team=team, quote=deep, bolt=DEEP_BOLT)
    _sent()

    committed(quotes.quote_offer_approve, quote=deep, actor=team.approver, now=NOW)

    assert _sent() == [
        (f"Quote {deep.number} v1 approved", MANAGER),
        (f"Quote {deep.number} has an offer for you", BUYERS),
    ]


def test_the_maker_hears_why_an_offer_was_sent_back_and_the_buyer_hears_nothing(
    team: Team, contacts: None, committed, deep: Quote
) -> None:  # type: ignore[no-untyped-def]
    committed(offer, team=team, quote=deep, bolt=DEEP_BOLT)
    _sent()

    committed(quotes.quote_offer_reject, quote=deep, actor=team.approver, message="Keep it above cost")

    [message] = mail.outbox
    assert (message.subject, message.to) == (f"Quote {deep.number} v1 sent back", MANAGER)
    assert "Keep it above cost" in message.body


def test_a_maker_withdrawing_their_own_waiting_offer_mails_nobody(
    team: Team, contacts: None, committed, deep: Quote
) -> None:  # type: ignore[no-untyped-def]
    committed(offer, team=team, quote=deep, bolt=DEEP_BOLT)
    _sent()

    committed(quotes.quote_offer_reject, quote=deep, actor=team.manager, message="Wrong prices")

    assert _sent() == []
