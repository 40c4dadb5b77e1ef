"""An offer runs out at the end of its valid-until day in the company's time zone: one second before
local midnight it is still offered, at midnight it is expired, by the scheduled job or by whoever acts
first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.quotes import services as quotes
from apps.quotes.exceptions import QuoteExpired
from apps.quotes.models import Quote
from tests.quotes.conftest import Team, offer, refreshed, request_lines

Status = Quote.Status
ZONES = ["America/Los_Angeles", "Asia/Tokyo"]


def _company_in(team: Team, zone: str) -> None:
    """The company's own time zone; the portal's (settings.TIME_ZONE) stays UTC, so only the company's
    can make these days end where they do."""
    team.company.time_zone = zone
    team.company.save(update_fields=["time_zone"])


def _offered(team: Team, valid_until: date, zone: str) -> tuple[Quote, datetime]:
    """A quote offered three days before its valid-until day ends; returns it and that end."""
    end = datetime.combine(valid_until + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo(zone))
    asked = end - timedelta(days=3, hours=1)
    quote = quotes.quote_request(
        company=team.company, buyer=team.buyer, message="", lines=request_lines(team), now=asked
    )
    quotes.quote_review(quote=quote, actor=team.manager, now=asked)
    offer(team, quote, now=asked, valid_until=valid_until)
    return refreshed(quote), end


@pytest.mark.parametrize("zone", ZONES)
def test_the_day_ends_at_local_midnight(team: Team, zone: str) -> None:
    _company_in(team, zone)
    quote, end = _offered(team, date(2026, 7, 10), zone)

    assert quote.time_zone == zone
    assert quote.expires_at == end
    assert end.astimezone(ZoneInfo(zone)).isoformat() == (
        "2026-07-11T00:00:00-07:00" if zone == "America/Los_Angeles" else "2026-07-11T00:00:00+09:00"
    )
    assert quotes.quotes_expire_due(end - timedelta(seconds=1)) == 0
    assert refreshed(quote).status == Status.OFFERED
    assert quotes.quotes_expire_due(end) == 1
    assert refreshed(quote).status == Status.EXPIRED
    assert refreshed(quote).events.last().to_status == Status.EXPIRED  # type: ignore[union-attr]


@pytest.mark.parametrize("zone", ZONES)
def test_an_action_one_second_before_midnight_is_taken(team: Team, zone: str) -> None:
    _company_in(team, zone)
    quote, end = _offered(team, date(2026, 7, 10), zone)

    quotes.quote_counter(
        quote=quote, actor=team.buyer, message="One more thing", now=end - timedelta(seconds=1)
    )

    assert refreshed(quote).status == Status.IN_REVIEW


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("action", ["accept", "counter", "close", "decline"])
def test_an_action_at_midnight_finds_the_offer_expired(team: Team, zone: str, action: str) -> None:
    _company_in(team, zone)
    quote, end = _offered(team, date(2026, 7, 10), zone)
    calls: dict[str, Callable[[], object]] = {
        "accept": lambda: quotes.quote_accept(quote=quote, actor=team.buyer, now=end),
        "counter": lambda: quotes.quote_counter(quote=quote, actor=team.buyer, message="?", now=end),
        "close": lambda: quotes.quote_close(quote=quote, actor=team.buyer, now=end),
        "decline": lambda: quotes.quote_decline(quote=quote, actor=team.manager, message="no", now=end),
    }

    with pytest.raises(QuoteExpired):
        calls[action]()

    quote = refreshed(quote)
    assert quote.status == Status.EXPIRED  # kept, although the action was refused
    assert quote.purchase_order is None
    assert [event.to_status for event in quote.events.all()][-2:] == [Status.OFFERED, Status.EXPIRED]


@pytest.mark.parametrize("zone", ZONES)
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    days=st.integers(min_value=0, max_value=400),  # a year and more: both daylight-saving changes in LA
    offset=st.integers(min_value=-2 * 86400, max_value=2 * 86400),  # seconds from local midnight
)
def test_expired_exactly_from_local_midnight(team: Team, zone: str, days: int, offset: int) -> None:
    _company_in(team, zone)
    valid_until = date(2026, 1, 1) + timedelta(days=days)
    quote, end = _offered(team, valid_until, zone)
    now = end + timedelta(seconds=offset)

    quotes.quotes_expire_due(now)

    assert end.astimezone(ZoneInfo(zone)).date() == valid_until + timedelta(days=1)
    assert (end.astimezone(ZoneInfo(zone)).hour, end.astimezone(ZoneInfo(zone)).minute) == (0, 0)
    assert refreshed(quote).status == (Status.EXPIRED if offset >= 0 else Status.OFFERED)
