"""Exactly one side acts at a time; strangers never act; a bad offer is refused; every refusal changes
nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from apps.accounts.models import Role, StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.quotes import services as quotes
from apps.quotes.exceptions import NotYourTurn, OfferRefused, QuoteError, QuoteForbidden
from apps.quotes.models import Quote, QuoteVersion, Side
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.quotes.conftest import NOW, Team, offer_lines, refreshed, request_lines
from tests.quotes.test_transitions import snapshot

Status = Quote.Status
D = Decimal
WEEK = NOW.date() + timedelta(days=7)


def test_the_turn_follows_the_status(quote_in: Callable[[Status], Quote]) -> None:
    assert quote_in(Status.SUBMITTED).turn == Side.SELLER
    assert quote_in(Status.IN_REVIEW).turn == Side.SELLER
    assert quote_in(Status.OFFERED).turn == Side.BUYER
    assert quote_in(Status.CLOSED).turn is None


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.IN_REVIEW])
def test_the_buyer_cannot_act_while_the_seller_holds_the_quote(
    team: Team, quote_in: Callable[[Status], Quote], status: Status
) -> None:
    quote = quote_in(status)
    before = snapshot(quote)
    attempts = [
        lambda: quotes.quote_review(quote=quote, actor=team.buyer, now=NOW),
        lambda: quotes.quote_offer(
            quote=quote, actor=team.buyer, lines=offer_lines(team), valid_until=WEEK, now=NOW
        ),
        lambda: quotes.quote_counter(quote=quote, actor=team.buyer, message="and?", now=NOW),
        lambda: quotes.quote_close(quote=quote, actor=team.buyer, now=NOW),
        lambda: quotes.quote_accept(quote=quote, actor=team.buyer, now=NOW),
        lambda: quotes.quote_decline(quote=quote, actor=team.buyer, message="no", now=NOW),
    ]
    for attempt in attempts:
        with pytest.raises(NotYourTurn, match=r"waiting for the account manager|Only the account manager"):
            attempt()

    assert snapshot(quote) == before


def test_the_seller_cannot_act_for_the_buyer_on_an_offer(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.OFFERED)
    before = snapshot(quote)
    attempts = [
        lambda: quotes.quote_review(quote=quote, actor=team.manager, now=NOW),
        lambda: quotes.quote_offer(
            quote=quote, actor=team.manager, lines=offer_lines(team, bolt="7.0000"), valid_until=WEEK, now=NOW
        ),
        lambda: quotes.quote_counter(quote=quote, actor=team.manager, message="and?", now=NOW),
        lambda: quotes.quote_close(quote=quote, actor=team.manager, now=NOW),
        lambda: quotes.quote_accept(quote=quote, actor=team.manager, now=NOW),
    ]
    for attempt in attempts:
        with pytest.raises(NotYourTurn, match="waiting for the buyer"):
            attempt()

    assert snapshot(quote) == before


def _stranger(team: Team, kind: str) -> User:
    if kind == "other company's buyer":
        from tests.accounts.factories import CompanyFactory

        return MembershipFactory(company=CompanyFactory(), role=Role.BUYER).user
    if kind == "viewer":
        return MembershipFactory(company=team.company, role=Role.VIEWER).user
    if kind == "another account manager":
        user = UserFactory()
        staff_user_set_roles(user=user, roles=[StaffRole.ACCOUNT_MANAGER])
        return user
    assert kind == "finance"
    user = UserFactory()
    staff_user_set_roles(user=user, roles=[StaffRole.FINANCE])
    return user


@pytest.mark.parametrize("kind", ["other company's buyer", "viewer", "another account manager", "finance"])
@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.OFFERED])
def test_strangers_are_refused(
    team: Team, quote_in: Callable[[Status], Quote], kind: str, status: Status
) -> None:
    quote = quote_in(status)
    stranger = _stranger(team, kind)
    before = snapshot(quote)
    attempts = [
        lambda: quotes.quote_review(quote=quote, actor=stranger, now=NOW),
        lambda: quotes.quote_offer(
            quote=quote, actor=stranger, lines=offer_lines(team), valid_until=WEEK, now=NOW
        ),
        lambda: quotes.quote_counter(quote=quote, actor=stranger, message="and?", now=NOW),
        lambda: quotes.quote_close(quote=quote, actor=stranger, now=NOW),
        lambda: quotes.quote_accept(quote=quote, actor=stranger, now=NOW),
        lambda: quotes.quote_decline(quote=quote, actor=stranger, message="no", now=NOW),
    ]
    for attempt in attempts:
        with pytest.raises(QuoteForbidden):
            attempt()

    assert snapshot(quote) == before


def test_a_portal_admin_may_stand_in_for_the_account_manager(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    admin = UserFactory()
    staff_user_set_roles(user=admin, roles=[StaffRole.ADMIN])
    quote = quote_in(Status.SUBMITTED)

    quotes.quote_review(quote=quote, actor=admin, now=NOW)

    assert refreshed(quote).status == Status.IN_REVIEW


def test_only_the_companys_manager_starts_a_quote_for_it(team: Team) -> None:
    other_manager = UserFactory()
    staff_user_set_roles(user=other_manager, roles=[StaffRole.ACCOUNT_MANAGER])

    with pytest.raises(QuoteForbidden):
        quotes.quote_start(company=team.company, manager=other_manager, lines=request_lines(team))
    assert not Quote.objects.exists()

    quote = quotes.quote_start(company=team.company, manager=team.manager, lines=request_lines(team))
    assert (quote.status, quote.turn, quote.number) == (Status.DRAFT, Side.SELLER, f"Q-{quote.pk:06d}")


def test_a_buyer_asks_from_their_draft_order(team: Team) -> None:
    from apps.purchase_orders import services as orders
    from apps.purchase_orders.lines import ParsedLine
    from apps.purchase_orders.models import PurchaseOrder

    draft = orders.purchase_order_draft_get(company=team.company, buyer=team.buyer)
    orders.purchase_order_lines_add(purchase_order=draft, lines=[ParsedLine(1, "BOLT", D("250"), "")])

    quote = quotes.quote_request(
        company=team.company,
        buyer=team.buyer,
        message="Volume price?",
        wanted_date=NOW.date() + timedelta(days=3),
        from_draft=draft,
        now=NOW,
    )

    assert quote.status == Status.SUBMITTED
    assert [(line.product.sku, line.quantity) for line in quote.request_lines.all()] == [("BOLT", D("250"))]
    assert PurchaseOrder.objects.get(pk=draft.pk).status == PurchaseOrder.Status.CANCELLED
    event = quote.events.get()
    assert (event.actor, event.side, event.to_status, event.message) == (
        team.buyer,
        Side.BUYER,
        Status.SUBMITTED,
        "Volume price?",
    )


def test_a_request_with_a_past_wanted_date_is_refused(team: Team) -> None:
    with pytest.raises(QuoteError, match="today or later"):
        quotes.quote_request(
            company=team.company,
            buyer=team.buyer,
            message="",
            wanted_date=NOW.date() - timedelta(days=1),
            lines=request_lines(team),
            now=NOW,
        )
    assert not Quote.objects.exists()


@pytest.mark.parametrize(
    ("prices", "breaks", "valid_until", "match"),
    [
        (("0", "2.1"), (), WEEK, "more than zero"),
        (("-1", "2.1"), (), WEEK, "more than zero"),
        (("8.5", "0.00001"), (), WEEK, "more than zero"),  # rounds to 0.0000 at 4 places
        (("8.5", "2.1"), ((D("500"), D("0")),), WEEK, "more than zero"),
        (("8.5", "2.1"), ((D("0"), D("8")),), WEEK, "quantity break"),
        (("8.5", "2.1"), (), NOW.date() - timedelta(days=1), "day is past"),
        (("1000000000000", "2.1"), (), WEEK, "less than"),
        (("NaN", "2.1"), (), WEEK, "more than zero"),
    ],
)
def test_a_bad_offer_is_refused_and_changes_nothing(
    team: Team,
    quote_in: Callable[[Status], Quote],
    prices: tuple[str, str],
    breaks: tuple[tuple[Decimal, Decimal], ...],
    valid_until: object,
    match: str,
) -> None:
    quote = quote_in(Status.IN_REVIEW)
    before = snapshot(quote)
    lines = [
        quotes.OfferedLine(team.products[0], D("100"), D(prices[0]), breaks=breaks),
        quotes.OfferedLine(team.products[1], D("40"), D(prices[1])),
    ]

    with pytest.raises(OfferRefused, match=match):
        quotes.quote_offer(quote=quote, actor=team.manager, lines=lines, valid_until=valid_until, now=NOW)  # type: ignore[arg-type]

    assert snapshot(quote) == before


def test_an_offer_valid_until_today_is_taken(team: Team, quote_in: Callable[[Status], Quote]) -> None:
    quote = quote_in(Status.IN_REVIEW)

    version = quotes.quote_offer(
        quote=quote, actor=team.manager, lines=offer_lines(team), valid_until=NOW.date(), now=NOW
    )

    assert version.number == 1
    assert refreshed(quote).status == Status.OFFERED


def test_a_counter_leads_to_the_next_immutable_version(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.OFFERED)
    quotes.quote_counter(quote=quote, actor=team.buyer, message="Could you do 8.00?", now=NOW)
    second = quotes.quote_offer(
        quote=quote, actor=team.manager, lines=offer_lines(team, bolt="8.0000"), valid_until=WEEK, now=NOW
    )

    first = quote.versions.get(number=1)
    assert [str(line.unit_price) for line in first.lines.all()] == ["8.5000", "2.1000"]
    assert [str(line.unit_price) for line in second.lines.all()] == ["8.0000", "2.1000"]
    assert [(e.side, e.from_status, e.to_status, e.message) for e in refreshed(quote).events.all()][-2:] == [
        (Side.BUYER, Status.OFFERED, Status.IN_REVIEW, "Could you do 8.00?"),
        (Side.SELLER, Status.IN_REVIEW, Status.OFFERED, ""),
    ]
    first.note = "changed"
    with pytest.raises(QuoteError, match="cannot be changed"):
        first.save()
    assert QuoteVersion.objects.get(pk=first.pk).note == ""


def test_the_offer_keeps_what_the_seller_saw(team: Team, quote_in: Callable[[Status], Quote]) -> None:
    from tests.pricing.factories import ContractPriceFactory

    ContractPriceFactory(company=team.company, product=team.products[0], unit_price=D("9.2500"))
    quote = quote_in(Status.OFFERED)

    bolt = quote.versions.get().lines.get(product=team.products[0])
    assert (bolt.list_price, bolt.reference_price, bolt.reference_source, bolt.currency) == (
        D("10.0000"),
        D("9.2500"),
        "contract",
        "USD",
    )
    assert [(b.min_quantity, b.unit_price) for b in bolt.breaks.all()] == [(D("500"), D("8.0000"))]


def test_an_offer_of_a_product_no_longer_sold_is_refused(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    from apps.catalog.models import Product

    quote = quote_in(Status.IN_REVIEW)
    before = snapshot(quote)
    Product.objects.filter(pk=team.products[1].pk).update(is_active=False)
    team.products[1].refresh_from_db()

    with pytest.raises(OfferRefused, match="no longer sold"):
        quotes.quote_offer(
            quote=quote, actor=team.manager, lines=offer_lines(team), valid_until=WEEK, now=NOW
        )

    assert snapshot(quote) == before


@pytest.mark.parametrize("quantity", ["0", "-1", "1000000000000", "NaN"])
def test_a_request_with_a_bad_quantity_is_refused(team: Team, quantity: str) -> None:
    lines = [quotes.RequestedLine(team.products[0], D(quantity))]

    with pytest.raises(QuoteError, match="more than zero"):
        quotes.quote_request(company=team.company, buyer=team.buyer, message="", lines=lines, now=NOW)

    assert not Quote.objects.exists()


def test_a_request_without_lines_or_from_a_viewer_is_refused(team: Team) -> None:
    viewer = MembershipFactory(company=team.company, role=Role.VIEWER).user

    with pytest.raises(QuoteError, match="at least one product"):
        quotes.quote_request(company=team.company, buyer=team.buyer, message="", lines=[], now=NOW)
    with pytest.raises(QuoteForbidden):
        quotes.quote_request(
            company=team.company, buyer=viewer, message="", lines=request_lines(team), now=NOW
        )

    assert not Quote.objects.exists()


def test_a_started_quotes_wanted_date_is_checked_in_the_companys_time_zone(team: Team) -> None:
    team.company.time_zone = "Asia/Tokyo"
    team.company.save()
    late_evening_utc = NOW.replace(hour=20)  # already the next day in Tokyo

    with pytest.raises(QuoteError, match="today or later"):
        quotes.quote_start(
            company=team.company,
            manager=team.manager,
            lines=request_lines(team),
            wanted_date=late_evening_utc.date(),
            now=late_evening_utc,
        )
    assert not Quote.objects.exists()
