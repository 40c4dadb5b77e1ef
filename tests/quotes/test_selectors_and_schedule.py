"""Who sees which quotes, the manager's queue, and the expiry job's schedule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django_q.models import Schedule

from apps.accounts.models import StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.core.services import schedules_ensure
from apps.quotes import selectors, tasks
from apps.quotes.models import Quote
from tests.accounts.factories import UserFactory
from tests.quotes.conftest import NOW, Team, refreshed

Status = Quote.Status


def test_buyers_see_their_companys_quotes_but_not_drafts(
    team: Team, quote_in: Callable[[Status], Quote], other_company_buyer: User
) -> None:
    draft = quote_in(Status.DRAFT)
    submitted = quote_in(Status.SUBMITTED)

    assert list(selectors.quote_list_for_user(user=team.buyer)) == [submitted]
    assert list(selectors.quote_list_for_user(user=other_company_buyer)) == []
    assert set(selectors.quote_list_for_user(user=team.manager)) == {draft, submitted}
    with pytest.raises(Quote.DoesNotExist):
        selectors.quote_get_for_user(user=other_company_buyer, quote_id=submitted.pk)


def test_another_manager_sees_none_and_an_admin_sees_all(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    quote = quote_in(Status.SUBMITTED)
    other, admin = UserFactory(), UserFactory()
    staff_user_set_roles(user=other, roles=[StaffRole.ACCOUNT_MANAGER])
    staff_user_set_roles(user=admin, roles=[StaffRole.ADMIN])

    assert list(selectors.quote_list_for_user(user=other)) == []
    assert list(selectors.quote_list_for_user(user=admin)) == [quote]


def test_the_queue_holds_what_waits_for_the_seller_oldest_first(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    first = quote_in(Status.SUBMITTED)
    second = quote_in(Status.IN_REVIEW)
    quote_in(Status.OFFERED)  # the buyer's turn
    quote_in(Status.CLOSED)
    Quote.objects.filter(pk=first.pk).update(updated_at=NOW - timedelta(days=2))
    Quote.objects.filter(pk=second.pk).update(updated_at=NOW - timedelta(days=3))

    assert list(selectors.quote_queue_for_manager(user=team.manager)) == [second, first]


def test_the_expiry_job_is_scheduled_every_minute_and_expires_due_offers(
    team: Team, quote_in: Callable[[Status], Quote]
) -> None:
    schedules_ensure()
    schedule = Schedule.objects.get(name="quotes.expire")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "apps.quotes.tasks.expire_due",
        Schedule.MINUTES,
        1,
    )
    quote = quote_in(Status.OFFERED)
    Quote.objects.filter(pk=quote.pk).update(expires_at=NOW)  # due now, whatever the real clock says

    assert tasks.expire_due() == 1
    assert refreshed(quote).status == Status.EXPIRED
