"""A discount past the threshold waits for a second approval: measured against the company's own price,
quantity breaks counting; approved by a portal admin or a quote approver but never by the offer's maker;
unseen by the buyer until approved; rejected back to review; ignored by the expiry job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User

from apps.accounts.models import Role, StaffRole
from apps.pricing.selectors import Source
from apps.quotes import selectors
from apps.quotes import services as quotes
from apps.quotes.exceptions import (
    ImmutableVersion,
    InvalidTransition,
    NotYourTurn,
    OfferRefused,
    QuoteError,
    QuoteForbidden,
)
from apps.quotes.models import Quote, QuoteEvent, QuoteRequestLine, QuoteVersion, Side
from tests.accounts.factories import CompanyFactory, MembershipFactory, UserFactory
from tests.catalog.factories import ProductFactory
from tests.pricing.factories import ContractPriceFactory
from tests.quotes.conftest import DEEP_BOLT, NOW, VALID_UNTIL, Team, offer, refreshed
from tests.quotes.test_transitions import snapshot

Status = Quote.Status
D = Decimal


@pytest.fixture(autouse=True)
def threshold(team: Team, settings: Any) -> None:
    settings.QUOTE_DISCOUNT_APPROVAL_PERCENT = D("15")  # the default (after ``team`` set its own)


def _in_review(quote_in: Callable[[Status], Quote]) -> Quote:
    return quote_in(Status.IN_REVIEW)


def _made_under_a_lax_threshold(settings: Any, make: Callable[[], Any]) -> Any:
    """``make()`` with the negotiation tests' threshold (their default offer has a break 20 % below list)."""
    settings.QUOTE_DISCOUNT_APPROVAL_PERCENT = D("50")
    try:
        return make()
    finally:
        settings.QUOTE_DISCOUNT_APPROVAL_PERCENT = D("15")


def _offer_bolt(
    team: Team, quote: Quote, price: str, breaks: tuple[tuple[str, str], ...] = (), actor: User | None = None
) -> QuoteVersion:
    """Offer the bolts alone (list price 10.0000, no tier or contract: the company pays 10.0000)."""
    return quotes.quote_offer(
        quote=quote,
        actor=actor or team.manager,
        lines=[
            quotes.OfferedLine(team.products[0], D("100"), D(price), breaks=[(D(q), D(p)) for q, p in breaks])
        ],
        valid_until=VALID_UNTIL,
        note="Best we can do",
        now=NOW,
    )


def _approval_snapshot(quote: Quote) -> tuple[Any, ...]:
    version = refreshed(quote).versions.order_by("-number").first()
    assert version is not None
    return (*snapshot(quote), version.approved_by_id, version.approved_at)


# --- The threshold ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "status"),
    [
        ("8.5001", Status.OFFERED),  # 14.999 % below: under the threshold
        ("8.5000", Status.OFFERED),  # exactly 15 %: at the threshold, not past it
        ("8.4999", Status.AWAITING_APPROVAL),  # 15.001 %: past it
    ],
)
def test_the_threshold_is_passed_only_beyond_it(
    team: Team, quote_in: Callable[[Status], Quote], price: str, status: Status
) -> None:
    quote = _in_review(quote_in)

    version = _offer_bolt(team, quote, price)

    quote = refreshed(quote)
    assert quote.status == status
    assert version.needs_approval is (status == Status.AWAITING_APPROVAL)
    assert (quote.expires_at is None) is (status == Status.AWAITING_APPROVAL)  # no clock before approval


def test_the_threshold_is_a_setting(team: Team, quote_in: Callable[[Status], Quote], settings: Any) -> None:
    settings.QUOTE_DISCOUNT_APPROVAL_PERCENT = D("20")
    quote = _in_review(quote_in)

    _offer_bolt(team, quote, "8.1000")  # 19 % below

    assert refreshed(quote).status == Status.OFFERED


def test_a_quantity_break_below_the_threshold_counts(team: Team, quote_in: Callable[[Status], Quote]) -> None:
    quote = _in_review(quote_in)

    version = _offer_bolt(team, quote, "9.0000", breaks=(("500", "7.8000"),))  # 10 %, but the break 22 %

    assert refreshed(quote).status == Status.AWAITING_APPROVAL
    event = QuoteEvent.objects.filter(quote=quote).latest("id")
    assert (event.to_status, event.seller_only, event.version_id) == (
        Status.AWAITING_APPROVAL,
        True,
        version.pk,
    )
    assert event.message == (
        "v1 waits for a second approval: 22% below the company's price on BOLT.\n\nBest we can do"
    )
    (line,) = version.lines.all()
    assert (line.lowest_price, line.discount) == (D("7.8000"), D("0.22"))


def test_the_discount_is_measured_against_the_companys_own_price_not_the_list(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    ContractPriceFactory(company=team.company, product=team.products[0], unit_price=D("8.0000"))
    quote = _in_review(quote_in)

    version = _offer_bolt(team, quote, "7.0000")  # 30 % below list, 12.5 % below the contract

    assert refreshed(quote).status == Status.OFFERED
    (line,) = version.lines.all()
    assert (line.reference_price, line.reference_source, line.discount) == (
        D("8"),
        Source.CONTRACT,
        D("0.125"),
    )

    quotes.quote_counter(quote=quote, actor=team.buyer, message="Lower?", now=NOW)
    _offer_bolt(team, quote, "6.7000")  # 16.25 % below the contract

    assert refreshed(quote).status == Status.AWAITING_APPROVAL


def test_every_deep_line_is_named_deepest_first(team: Team, quote_in: Callable[[Status], Quote]) -> None:
    quote = _in_review(quote_in)

    offer(team, quote, bolt="8.0000", nut="1.5000")  # bolt break 8.0000: 20 %; nut 40 %

    assert QuoteEvent.objects.filter(quote=quote).latest("id").message == (
        "v1 waits for a second approval: 40% below the company's price on NUT; "
        "20% below the company's price on BOLT."
    )


# --- Who approves ----------------------------------------------------------------------------------------


def test_a_quote_approver_approves_and_the_offer_starts_then(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)
    approved_at = NOW + timedelta(hours=3)

    quote = quotes.quote_offer_approve(
        quote=quote, actor=team.approver, message="Strategic account", now=approved_at
    )

    assert quote.status == Status.OFFERED
    assert quote.expires_at == quotes.offer_end(VALID_UNTIL, quote.time_zone)
    version = quote.versions.get()
    assert (version.approved_by, version.approved_at, version.is_offered) == (
        team.approver,
        approved_at,
        True,
    )
    approval, offered = QuoteEvent.objects.filter(quote=quote).order_by("-id")[:2][::-1]
    assert (approval.actor, approval.seller_only, approval.to_status, approval.message) == (
        team.approver,
        True,
        "",
        "v1 approved. Strategic account",
    )
    assert (offered.actor, offered.seller_only, offered.from_status, offered.to_status) == (
        team.manager,  # the buyer reads the offer as its maker made it
        False,
        Status.AWAITING_APPROVAL,
        Status.OFFERED,
    )


def test_a_portal_admin_approves(team: Team, quote_in: Callable[[Status], Quote], staff_factory: Any) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)

    quotes.quote_offer_approve(quote=quote, actor=staff_factory(StaffRole.ADMIN), now=NOW)

    assert refreshed(quote).status == Status.OFFERED


def test_nobody_approves_their_own_offer_not_even_a_portal_admin(
    team: Team, quote_in: Callable[[Status], Quote], staff_factory: Any
) -> None:
    admin = staff_factory(StaffRole.ADMIN)
    admin.groups.add(*team.approver.groups.all())  # an approver too
    quote = _in_review(quote_in)
    _offer_bolt(team, quote, DEEP_BOLT, actor=admin)
    before = _approval_snapshot(quote)

    with pytest.raises(QuoteForbidden, match="another person must approve"):
        quotes.quote_offer_approve(quote=quote, actor=admin, now=NOW)

    assert _approval_snapshot(quote) == before
    assert list(selectors.quote_approvals_waiting(user=admin)) == []
    quotes.quote_offer_approve(quote=quote, actor=staff_factory(StaffRole.ADMIN), now=NOW)
    assert refreshed(quote).status == Status.OFFERED


@pytest.mark.parametrize("who", ["buyer", "manager", "other manager", "inactive approver", "approver buyer"])
def test_others_cannot_approve(
    team: Team, quote_in: Callable[[Status], Quote], staff_factory: Any, who: str
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)
    group = team.approver.groups.get()
    if who == "buyer":
        actor = team.buyer
    elif who == "manager":  # the quote's own account manager made the offer
        actor = team.manager
    elif who == "other manager":
        actor = staff_factory(StaffRole.ACCOUNT_MANAGER)
        CompanyFactory(account_manager=actor)
    elif who == "inactive approver":
        actor = UserFactory(is_active=False)
        actor.groups.add(group)
    else:  # a customer's member is never an approver, whatever group they are put in
        actor = MembershipFactory(company=team.company, role=Role.ADMIN).user
        actor.groups.add(group)
    before = _approval_snapshot(quote)

    with pytest.raises(QuoteForbidden):
        quotes.quote_offer_approve(quote=quote, actor=actor, now=NOW)

    assert _approval_snapshot(quote) == before
    assert list(selectors.quote_approvals_waiting(user=actor)) == []


@pytest.mark.parametrize("source", [Status.IN_REVIEW, Status.OFFERED, Status.DECLINED])
def test_only_a_waiting_offer_is_approved_or_rejected(
    team: Team, quote_in: Callable[[Status], Quote], source: Status, settings: Any
) -> None:
    quote = _made_under_a_lax_threshold(settings, lambda: quote_in(source))
    before = snapshot(quote)

    with pytest.raises(InvalidTransition, match="not waiting for an approval"):
        quotes.quote_offer_approve(quote=quote, actor=team.approver, now=NOW)
    with pytest.raises(InvalidTransition, match="not waiting for an approval"):
        quotes.quote_offer_reject(quote=quote, actor=team.approver, message="No")

    assert snapshot(quote) == before


def test_an_approval_after_the_valid_until_day_is_refused(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)  # valid until 2026-06-30 in UTC
    before = _approval_snapshot(quote)
    july = NOW.replace(month=7, day=1, hour=0, minute=0)

    with pytest.raises(OfferRefused, match="valid until 2026-06-30, a day that has passed"):
        quotes.quote_offer_approve(quote=quote, actor=team.approver, now=july)

    assert _approval_snapshot(quote) == before
    quotes.quote_offer_approve(quote=quote, actor=team.approver, now=july - timedelta(microseconds=1))
    assert refreshed(quote).status == Status.OFFERED


# --- Reject, decline, and the buyer's moves while waiting ---------------------------------------------------


def test_a_rejected_offer_goes_back_to_review_and_the_next_version_is_offered(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)

    quotes.quote_offer_reject(quote=quote, actor=team.approver, message="Margin too thin")

    quote = refreshed(quote)
    assert (quote.status, quote.turn, quote.expires_at) == (Status.IN_REVIEW, Side.SELLER, None)
    event = QuoteEvent.objects.filter(quote=quote).latest("id")
    assert (event.actor, event.seller_only, event.message) == (
        team.approver,
        True,
        "v1 rejected: Margin too thin",
    )
    second = _offer_bolt(team, quote, "8.6000")  # within the threshold

    assert (refreshed(quote).status, second.number, second.needs_approval) == (Status.OFFERED, 2, False)
    first = quote.versions.get(number=1)
    assert (first.needs_approval, first.approved_at, first.is_offered) == (True, None, False)
    buyer_view = selectors.quote_get_for_user(user=team.buyer, quote_id=quote.pk)
    assert [version.number for version in buyer_view.versions.all()] == [2]


def test_a_rejection_needs_a_reason_and_an_approver_or_the_offers_maker(
    team: Team, quote_in: Callable[[Status], Quote], staff_factory: Any
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)
    before = snapshot(quote)

    with pytest.raises(QuoteError, match="Say why"):
        quotes.quote_offer_reject(quote=quote, actor=team.approver, message="  ")
    for outsider in (team.buyer, staff_factory(StaffRole.ACCOUNT_MANAGER)):
        with pytest.raises(QuoteForbidden):
            quotes.quote_offer_reject(quote=quote, actor=outsider, message="No")

    assert snapshot(quote) == before
    quotes.quote_offer_reject(quote=quote, actor=team.manager, message="Withdrawn: wrong price")  # the maker
    assert refreshed(quote).status == Status.IN_REVIEW


def test_the_seller_may_decline_while_it_waits_and_the_buyer_is_told(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)

    quotes.quote_decline(quote=quote, actor=team.manager, message="Discontinued", now=NOW)

    assert refreshed(quote).status == Status.DECLINED
    event = selectors.quote_get_for_user(user=team.buyer, quote_id=quote.pk).events.all()[::-1][0]
    assert (event.from_status_for(Side.BUYER), event.to_status_for(Side.BUYER), event.message) == (
        Status.IN_REVIEW,
        Status.DECLINED,
        "Discontinued",
    )


@pytest.mark.parametrize("action", ["accept", "counter", "close", "offer again", "review"])
def test_nothing_else_moves_a_waiting_quote(
    team: Team, quote_in: Callable[[Status], Quote], action: str
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)
    before = snapshot(quote)
    moves: dict[str, Callable[[], object]] = {
        "accept": lambda: quotes.quote_accept(quote=quote, actor=team.buyer, now=NOW),
        "counter": lambda: quotes.quote_counter(quote=quote, actor=team.buyer, message="Hm", now=NOW),
        "close": lambda: quotes.quote_close(quote=quote, actor=team.buyer, now=NOW),
        "offer again": lambda: offer(team, quote),
        "review": lambda: quotes.quote_review(quote=quote, actor=team.manager, now=NOW),
    }

    with pytest.raises(NotYourTurn if action in ("accept", "counter", "close") else InvalidTransition):
        moves[action]()

    assert snapshot(quote) == before


def test_the_expiry_job_leaves_a_waiting_quote_alone(team: Team, quote_in: Callable[[Status], Quote]) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)
    before = snapshot(quote)

    assert quotes.quotes_expire_due(now=NOW + timedelta(days=60)) == 0
    quotes.quote_expire(quote=quote, now=NOW + timedelta(days=60))

    assert snapshot(quote) == before


# --- What the buyer sees -----------------------------------------------------------------------------------


def test_the_buyer_sees_in_review_and_not_the_waiting_version_until_it_is_approved(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)

    seen = selectors.quote_get_for_user(user=team.buyer, quote_id=quote.pk)
    (listed,) = selectors.quote_list_for_user(user=team.buyer)
    manager_view = selectors.quote_get_for_user(user=team.manager, quote_id=quote.pk)

    assert (seen.status_for(Side.BUYER), seen.status_label_for(Side.BUYER), seen.turn) == (
        Status.IN_REVIEW,
        "In review",
        Side.SELLER,
    )
    assert list(seen.versions.all()) == [] == list(listed.versions.all())
    assert [event.to_status_for(Side.BUYER) for event in seen.events.all()] == [
        Status.SUBMITTED,
        Status.IN_REVIEW,
    ]
    assert manager_view.status_for(Side.SELLER) == Status.AWAITING_APPROVAL
    assert [version.number for version in manager_view.versions.all()] == [1]
    assert [event.to_status for event in manager_view.events.all()][-1] == Status.AWAITING_APPROVAL

    quotes.quote_offer_approve(quote=quote, actor=team.approver, now=NOW)
    seen = selectors.quote_get_for_user(user=team.buyer, quote_id=quote.pk)

    assert seen.status_for(Side.BUYER) == Status.OFFERED
    assert [version.number for version in seen.versions.all()] == [1]
    assert [(e.from_status_for(Side.BUYER), e.to_status_for(Side.BUYER)) for e in seen.events.all()][-1] == (
        Status.IN_REVIEW,
        Status.OFFERED,
    )
    assert not any(event.seller_only for event in seen.events.all())


# --- The version stays immutable ------------------------------------------------------------------------


def test_the_approval_writes_only_its_own_two_fields_once(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)
    fields = [
        "quote_id",
        "number",
        "valid_until",
        "note",
        "currency",
        "offered_by_id",
        "offered_at",
        "needs_approval",
    ]
    version = quote.versions.get()
    before = {name: getattr(version, name) for name in fields}
    lines_before = list(version.lines.values_list("product_id", "quantity", "unit_price", "reference_price"))

    quotes.quote_offer_approve(quote=quote, actor=team.approver, now=NOW)

    version = QuoteVersion.objects.get(pk=version.pk)
    assert {name: getattr(version, name) for name in fields} == before
    assert (
        list(version.lines.values_list("product_id", "quantity", "unit_price", "reference_price"))
        == lines_before
    )
    version.approved_by = team.manager
    with pytest.raises(ImmutableVersion):
        version.save()
    with pytest.raises(InvalidTransition):  # a second approval: nothing waits any more
        quotes.quote_offer_approve(quote=quote, actor=UserFactory(is_superuser=True), now=NOW)
    assert QuoteVersion.objects.get(pk=version.pk).approved_by == team.approver


# --- The approver's queue and the seller's pricing ------------------------------------------------------


def test_the_approvers_queue_holds_what_they_may_approve_oldest_first(
    team: Team, quote_in: Callable[[Status], Quote], staff_factory: Any, settings: Any
) -> None:
    first = quote_in(Status.AWAITING_APPROVAL)
    second = quote_in(Status.AWAITING_APPROVAL)
    _made_under_a_lax_threshold(settings, lambda: quote_in(Status.OFFERED))
    Quote.objects.filter(pk=first.pk).update(updated_at=NOW - timedelta(days=1))
    Quote.objects.filter(pk=second.pk).update(updated_at=NOW - timedelta(days=2))

    waiting = list(selectors.quote_approvals_waiting(user=team.approver))

    assert waiting == [second, first]
    assert [quote.waiting_version for quote in waiting] == [1, 1]  # type: ignore[attr-defined]
    assert list(selectors.quote_approvals_waiting(user=staff_factory(StaffRole.ADMIN))) == [second, first]
    for nobody in (team.manager, team.buyer):
        assert list(selectors.quote_approvals_waiting(user=nobody)) == []
    assert selectors.quote_queue_for_manager(user=team.manager).filter(pk=first.pk).exists() is False


def test_offered_lines_keep_the_cost_and_margin_when_offered(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    team.products[0].cost_price = D("6.8000")
    team.products[0].save()
    quote = _in_review(quote_in)

    version = _offer_bolt(team, quote, "8.5000")
    team.products[0].cost_price = D("9.0000")  # the ERP's cost moves on; the offered line keeps its own
    team.products[0].save()

    (line,) = version.lines.all()
    assert (line.cost_price, line.margin) == (D("6.8000"), D("0.2"))


def test_the_pricing_rows_show_list_company_price_cost_and_last_offer_in_a_few_queries(
    team: Team,
    quote_in: Callable[[Status], Quote],
    django_assert_max_num_queries: Any,
    settings: Any,
) -> None:
    ContractPriceFactory(company=team.company, product=team.products[0], unit_price=D("9.0000"))
    team.products[0].cost_price = D("6.0000")
    team.products[0].save()
    quote = _made_under_a_lax_threshold(settings, lambda: quote_in(Status.OFFERED))  # v1: 8.5000, 2.1000
    quotes.quote_counter(quote=quote, actor=team.buyer, message="Lower?", now=NOW)

    with django_assert_max_num_queries(8) as captured:
        rows = selectors.quote_offer_pricing(quote=refreshed(quote), now=NOW)

    assert [
        (
            row.product.sku,
            row.quantity,
            row.list_price,
            row.reference_price,
            row.reference_source,
            row.cost_price,
        )
        for row in rows
    ] == [
        ("BOLT", D("100"), D("10.0000"), D("9.0000"), Source.CONTRACT, D("6.0000")),
        ("NUT", D("40"), D("2.5000"), D("2.5000"), Source.LIST, None),
    ]
    assert [row.last_offered_price for row in rows] == [D("8.5000"), D("2.1000")]
    assert (rows[0].last_offered_margin, rows[1].last_offered_margin) == (
        (D("8.5") - D("6")) / D("8.5"),
        None,
    )
    assert (rows[0].last_offered_discount, rows[0].reference_margin) == (
        D("1") - D("8.5") / D("9"),
        D("1") / D("3"),
    )

    more = quote_in(Status.SUBMITTED)
    extra = [ProductFactory(sku=f"EXTRA-{n}") for n in range(8)]
    QuoteRequestLine.objects.bulk_create(
        QuoteRequestLine(quote=more, product=p, quantity=D("3")) for p in extra
    )
    with django_assert_max_num_queries(len(captured)):
        rows = selectors.quote_offer_pricing(quote=refreshed(more), now=NOW)
    assert len(rows) == 10
    assert {row.last_offered_price for row in rows} == {None}


def test_a_waiting_version_is_not_the_last_offered_price(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)
    quotes.quote_offer_reject(quote=quote, actor=team.approver, message="No")

    rows = selectors.quote_offer_pricing(quote=refreshed(quote), now=NOW)

    assert [(row.product.sku, row.last_offered_price) for row in rows] == [("BOLT", None), ("NUT", None)]
