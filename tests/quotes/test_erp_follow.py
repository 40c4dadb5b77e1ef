"""The outbox jobs a quote's moves write, in the move's own transaction: one push per offered version,
one cancel when a quote that was offered ends without an order, none for an ERP without quotations."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apps.erp.models import SyncJob
from apps.purchase_orders.services import purchase_order_cancel
from apps.quotes import services as quotes
from apps.quotes.erp import QUOTE_CANCEL, QUOTE_PUSH, _latest_versions
from apps.quotes.exceptions import OfferRefused
from apps.quotes.models import Quote
from apps.quotes.selectors import quote_sync_context
from tests.quotes.conftest import DEEP_BOLT, NOW, VALID_UNTIL, Team, offer, offer_lines, refreshed

Status = Quote.Status


def _jobs(quote: Quote) -> list[tuple[str, str]]:
    return list(
        SyncJob.objects.filter(target_id=str(quote.pk), kind__startswith="quote.")
        .order_by("id")
        .values_list("kind", "idempotency_key")
    )


def test_each_offered_version_is_pushed_once_and_a_counter_pushes_nothing(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.OFFERED)
    quotes.quote_counter(quote=quote, actor=team.buyer, message="Less?", now=NOW)
    offer(team, quote, bolt="8.0000")

    assert _jobs(quote) == [
        (QUOTE_PUSH, f"{QUOTE_PUSH}:{quote.pk}:v1"),
        (QUOTE_PUSH, f"{QUOTE_PUSH}:{quote.pk}:v2"),
    ]
    context = quote_sync_context(refreshed(quote))
    assert (context["sync_state"].state, context["erp_keeps_quotes"]) == ("pending", True)
    assert [event.message for event in context["events"]] == [f"{QUOTE_PUSH} queued"] * 2


def test_a_refused_offer_writes_no_job(team: Team, quote_in: Callable[[Status], Quote]) -> None:
    quote = quote_in(Status.IN_REVIEW)

    with pytest.raises(OfferRefused):
        quotes.quote_offer(
            quote=quote,
            actor=team.manager,
            lines=offer_lines(team, bolt="0"),
            valid_until=VALID_UNTIL,
            now=NOW,
        )

    assert _jobs(quote) == []
    assert quote_sync_context(refreshed(quote))["sync_state"].state == "never"


@pytest.mark.parametrize("ending", [Status.DECLINED, Status.CLOSED, Status.EXPIRED])
def test_an_offered_quote_that_ends_cancels_its_quotation_once(
    quote_in: Callable[[Status], Quote], ending: Status
) -> None:
    quote = quote_in(ending)

    assert _jobs(quote) == [
        (QUOTE_PUSH, f"{QUOTE_PUSH}:{quote.pk}:v1"),
        (QUOTE_CANCEL, f"{QUOTE_CANCEL}:{quote.pk}"),
    ]


def test_a_quote_declined_before_any_offer_has_nothing_in_the_erp(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.IN_REVIEW)

    quotes.quote_decline(quote=quote, actor=team.manager, message="We do not sell that", now=NOW)

    assert _jobs(quote) == []


def test_ordered_writes_no_quote_job_the_orders_push_confirms_the_quotation(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.ORDERED)

    assert _jobs(quote) == [(QUOTE_PUSH, f"{QUOTE_PUSH}:{quote.pk}:v1")]
    assert SyncJob.objects.filter(kind="order.push", target_id=str(quote.purchase_order_id)).count() == 1


def test_an_erp_without_quotations_gets_no_quote_jobs_and_the_page_says_so(
    settings, team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    settings.ERP_KIND = "business_central"

    quote = quote_in(Status.DECLINED)

    assert _jobs(quote) == []
    context = quote_sync_context(refreshed(quote))
    assert (context["sync_state"].state, context["erp_keeps_quotes"]) == ("never", False)


def test_a_cancelled_order_cancels_its_quotes_quotation(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.ORDERED)

    purchase_order_cancel(purchase_order=quote.purchase_order, actor=team.buyer, note="not needed after all")

    assert _jobs(quote) == [
        (QUOTE_PUSH, f"{QUOTE_PUSH}:{quote.pk}:v1"),
        (QUOTE_CANCEL, f"{QUOTE_CANCEL}:{quote.pk}"),
    ]


def test_an_offer_waiting_for_its_second_approval_reaches_the_erp_only_once_approved(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)

    assert _jobs(quote) == []

    quotes.quote_offer_approve(quote=quote, actor=team.approver, now=NOW)

    assert _jobs(quote) == [(QUOTE_PUSH, f"{QUOTE_PUSH}:{quote.pk}:v1")]


def test_a_quote_declined_before_any_offer_was_approved_cancels_nothing(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.AWAITING_APPROVAL)

    quotes.quote_decline(quote=quote, actor=team.manager, message="Cannot go that low", now=NOW)

    assert _jobs(quote) == []


def test_the_push_sends_the_offer_on_the_table_not_a_version_still_waiting(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.OFFERED)  # v1 offered: its push job is written
    quotes.quote_counter(quote=quote, actor=team.buyer, message="Less?", now=NOW)
    offer(team, quote, bolt=DEEP_BOLT)  # v2 waits for its second approval

    latest = _latest_versions([refreshed(quote)])

    assert latest[quote.pk].number == 1
