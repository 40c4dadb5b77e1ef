"""The transition table, every ordered pair of states, and every service from every state: an allowed
move succeeds and writes its thread row; any other raises and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from apps.purchase_orders.models import PurchaseOrder
from apps.quotes import services as quotes
from apps.quotes.exceptions import InvalidTransition, QuoteError
from apps.quotes.models import TRANSITIONS, TURN, Quote, QuoteEvent, QuoteLine, Side
from tests.quotes.conftest import DEEP_BOLT, NOW, Team, offer_lines, refreshed

Status = Quote.Status
ALL = list(Status)

EXPECTED = {
    (Status.DRAFT, Status.IN_REVIEW),
    (Status.DRAFT, Status.OFFERED),
    (Status.DRAFT, Status.AWAITING_APPROVAL),
    (Status.DRAFT, Status.DECLINED),
    (Status.SUBMITTED, Status.IN_REVIEW),
    (Status.SUBMITTED, Status.DECLINED),
    (Status.IN_REVIEW, Status.OFFERED),
    (Status.IN_REVIEW, Status.AWAITING_APPROVAL),
    (Status.IN_REVIEW, Status.DECLINED),
    (Status.AWAITING_APPROVAL, Status.OFFERED),
    (Status.AWAITING_APPROVAL, Status.IN_REVIEW),
    (Status.AWAITING_APPROVAL, Status.DECLINED),
    (Status.OFFERED, Status.ACCEPTED),
    (Status.OFFERED, Status.IN_REVIEW),
    (Status.OFFERED, Status.CLOSED),
    (Status.OFFERED, Status.DECLINED),
    (Status.OFFERED, Status.EXPIRED),
    (Status.ACCEPTED, Status.ORDERED),
}


def snapshot(quote: Quote) -> tuple[Any, ...]:
    quote = refreshed(quote)
    return (
        quote.status,
        quote.expires_at,
        quote.purchase_order_id,
        QuoteEvent.objects.filter(quote=quote).count(),
        quote.versions.count(),
        QuoteLine.objects.filter(version__quote=quote).count(),
        PurchaseOrder.objects.exclude(status=PurchaseOrder.Status.DRAFT).count(),
    )


def test_the_table_is_exactly_the_documented_moves() -> None:
    assert {(source, target) for source, targets in TRANSITIONS.items() for target in targets} == EXPECTED
    assert set(TRANSITIONS) == set(ALL)
    assert len(ALL) ** 2 == 100  # every ordered pair below
    final = {status for status in ALL if not TRANSITIONS[status]}
    assert final == {Status.ORDERED, Status.CLOSED, Status.DECLINED, Status.EXPIRED}
    assert TURN == {
        Status.DRAFT: Side.SELLER,
        Status.SUBMITTED: Side.SELLER,
        Status.IN_REVIEW: Side.SELLER,
        Status.AWAITING_APPROVAL: Side.SELLER,
        Status.OFFERED: Side.BUYER,
    }


@pytest.mark.parametrize("source", ALL)
@pytest.mark.parametrize("target", ALL)
def test_every_ordered_pair(quote_in: Callable[[Status], Quote], source: Status, target: Status) -> None:
    """Through ``_transition``, the one function every service moves a quote with (under its lock)."""
    quote = quote_in(source)
    before = snapshot(quote)

    if (source, target) in EXPECTED:
        moved = quotes._transition(quotes._locked(quote), target, actor=None, side=None, message="m")

        assert moved.status == target
        event = QuoteEvent.objects.filter(quote=quote).order_by("-id").first()
        assert event is not None
        assert (event.from_status, event.to_status, event.message) == (source, target, "m")
    else:
        with pytest.raises(InvalidTransition):
            quotes._transition(quotes._locked(quote), target, actor=None, side=None)

        assert snapshot(quote) == before


def _review(team: Team, quote: Quote) -> object:
    return quotes.quote_review(quote=quote, actor=team.manager, now=NOW)


def _offer(team: Team, quote: Quote) -> object:
    return quotes.quote_offer(
        quote=quote,
        actor=team.manager,
        lines=offer_lines(team),
        valid_until=NOW.date() + timedelta(days=7),
        now=NOW,
    )


def _counter(team: Team, quote: Quote) -> object:
    return quotes.quote_counter(quote=quote, actor=team.buyer, message="8.00?", now=NOW)


def _close(team: Team, quote: Quote) -> object:
    return quotes.quote_close(quote=quote, actor=team.buyer, now=NOW)


def _offer_deep(team: Team, quote: Quote) -> object:
    return quotes.quote_offer(
        quote=quote,
        actor=team.manager,
        lines=offer_lines(team, bolt=DEEP_BOLT),
        valid_until=NOW.date() + timedelta(days=7),
        now=NOW,
    )


def _approve(team: Team, quote: Quote) -> object:
    return quotes.quote_offer_approve(quote=quote, actor=team.approver, now=NOW)


def _reject(team: Team, quote: Quote) -> object:
    return quotes.quote_offer_reject(quote=quote, actor=team.approver, message="Too deep")


def _decline(team: Team, quote: Quote) -> object:
    return quotes.quote_decline(quote=quote, actor=team.manager, message="Discontinued", now=NOW)


def _accept(team: Team, quote: Quote) -> object:
    return quotes.quote_accept(quote=quote, actor=team.buyer, now=NOW)


# service -> (states it moves a quote from, the state it leaves the quote in)
SERVICES: dict[str, tuple[Callable[[Team, Quote], object], set[Status], Status]] = {
    "review": (_review, {Status.DRAFT, Status.SUBMITTED}, Status.IN_REVIEW),
    "offer": (_offer, {Status.DRAFT, Status.IN_REVIEW}, Status.OFFERED),
    "offer deep": (_offer_deep, {Status.DRAFT, Status.IN_REVIEW}, Status.AWAITING_APPROVAL),
    "approve": (_approve, {Status.AWAITING_APPROVAL}, Status.OFFERED),
    "reject": (_reject, {Status.AWAITING_APPROVAL}, Status.IN_REVIEW),
    "counter": (_counter, {Status.OFFERED}, Status.IN_REVIEW),
    "close": (_close, {Status.OFFERED}, Status.CLOSED),
    "decline": (
        _decline,
        {Status.DRAFT, Status.SUBMITTED, Status.IN_REVIEW, Status.AWAITING_APPROVAL, Status.OFFERED},
        Status.DECLINED,
    ),
    "accept": (_accept, {Status.OFFERED}, Status.ORDERED),
}


@pytest.mark.parametrize("source", ALL)
@pytest.mark.parametrize("name", list(SERVICES))
def test_every_service_from_every_state(
    team: Team, quote_in: Callable[[Status], Quote], name: str, source: Status
) -> None:
    service, sources, target = SERVICES[name]
    quote = quote_in(source)
    before = snapshot(quote)

    if source in sources:
        service(team, quote)

        assert refreshed(quote).status == target
        assert QuoteEvent.objects.filter(quote=quote).count() > before[3]
    elif name == "accept" and source == Status.ORDERED:  # a second accept: the same order, nothing new
        service(team, quote)

        assert snapshot(quote) == before
    else:
        with pytest.raises(QuoteError):
            service(team, quote)

        assert snapshot(quote) == before


@pytest.mark.parametrize("source", ALL)
def test_expire_moves_only_a_due_offer(quote_in: Callable[[Status], Quote], source: Status) -> None:
    quote = quote_in(source)
    before = snapshot(quote)

    quotes.quote_expire(quote=quote, now=NOW + timedelta(days=60))

    if source == Status.OFFERED:
        assert refreshed(quote).status == Status.EXPIRED
    else:
        assert snapshot(quote) == before
