"""The buyer changes a submitted request (lines, message, wanted date); from in review on it is the
seller's, and a refused change changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.accounts.models import Role
from apps.quotes import services as quotes
from apps.quotes.exceptions import InvalidTransition, NotYourTurn, QuoteError, QuoteForbidden
from apps.quotes.models import Quote, QuoteRequestLine
from tests.accounts.factories import MembershipFactory
from tests.quotes.conftest import NOW, Team, refreshed

D = Decimal
Status = Quote.Status


def _state(quote: Quote) -> tuple[object, ...]:
    quote = refreshed(quote)
    return (
        quote.status,
        quote.message,
        quote.wanted_date,
        quote.updated_at,
        sorted(QuoteRequestLine.objects.filter(quote=quote).values_list("product_id", "quantity")),
        quote.events.count(),
    )


def test_the_buyer_changes_a_submitted_request(team: Team, quote_in: Callable[[Status], Quote]) -> None:
    quote = quote_in(Status.SUBMITTED)
    wanted = NOW.date() + timedelta(days=9)

    quotes.quote_request_edit(
        quote=quote,
        actor=team.buyer,
        lines=[quotes.RequestedLine(team.products[1], D("75"), "boxed")],
        message="Only nuts",
        wanted_date=wanted,
        now=NOW,
    )

    quote = refreshed(quote)
    assert quote.status == Status.SUBMITTED
    assert (quote.message, quote.wanted_date) == ("Only nuts", wanted)
    assert [(line.product_id, line.quantity, line.note) for line in quote.request_lines.all()] == [
        (team.products[1].pk, D("75"), "boxed")
    ]
    event = quote.events.last()
    assert (event.actor, event.side, event.from_status, event.to_status) == (team.buyer, "buyer", "", "")
    assert event.message == "Request changed: NUT: 75.\nOnly nuts"


@pytest.mark.parametrize("status", [Status.IN_REVIEW, Status.OFFERED, Status.CLOSED, Status.DRAFT])
def test_once_taken_up_the_request_cannot_change(
    team: Team, quote_in: Callable[[Status], Quote], status: Status
) -> None:
    quote = quote_in(status)
    before = _state(quote)
    actor = team.manager if status == Status.DRAFT else team.buyer

    with pytest.raises((InvalidTransition, NotYourTurn)):
        quotes.quote_request_edit(
            quote=quote,
            actor=actor,
            lines=[quotes.RequestedLine(team.products[0], D("1"))],
            message="x",
            now=NOW,
        )

    assert _state(quote) == before


def test_only_the_buyer_side_changes_the_request(
    team: Team, quote_in: Callable[[Status], Quote], other_company_buyer
) -> None:  # type: ignore[no-untyped-def]
    quote = quote_in(Status.SUBMITTED)
    before = _state(quote)
    viewer = MembershipFactory(company=team.company, role=Role.VIEWER).user
    line = [quotes.RequestedLine(team.products[0], D("1"))]

    with pytest.raises(NotYourTurn):
        quotes.quote_request_edit(quote=quote, actor=team.manager, lines=line, message="x", now=NOW)
    for stranger in (viewer, other_company_buyer):
        with pytest.raises(QuoteForbidden):
            quotes.quote_request_edit(quote=quote, actor=stranger, lines=line, message="x", now=NOW)

    assert _state(quote) == before


@pytest.mark.parametrize(
    ("lines", "wanted", "error"),
    [
        ([], None, "Add at least one product"),
        ("twice", None, "listed twice"),
        ("zero", None, "more than zero"),
        ("one", -1, "today or later"),
    ],
)
def test_a_bad_change_is_refused_whole(
    team: Team, quote_in: Callable[[Status], Quote], lines: object, wanted: int | None, error: str
) -> None:
    quote = quote_in(Status.SUBMITTED)
    before = _state(quote)
    bolt = team.products[0]
    given = (
        {
            "twice": [quotes.RequestedLine(bolt, D("1")), quotes.RequestedLine(bolt, D("2"))],
            "zero": [quotes.RequestedLine(bolt, D("0"))],
            "one": [quotes.RequestedLine(bolt, D("1"))],
        }.get(lines, [])
        if isinstance(lines, str)
        else []
    )

    with pytest.raises(QuoteError, match=error):
        quotes.quote_request_edit(
            quote=quote,
            actor=team.buyer,
            lines=given,
            message="changed",
            wanted_date=None if wanted is None else NOW.date() + timedelta(days=wanted),
            now=NOW,
        )

    assert _state(quote) == before
