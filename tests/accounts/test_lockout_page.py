"""The lockout page says how long in words ("1 hour"), not as an ISO 8601 duration ("PT1H")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from apps.core.templatetags.durations import human_duration
from tests.accounts.factories import CompanyFactory, MembershipFactory, UserFactory


@pytest.mark.parametrize(
    ("duration", "said"),
    [
        (timedelta(hours=1), "1 hour"),
        (timedelta(minutes=90), "1 hour 30 minutes"),
        (timedelta(days=2, hours=3, minutes=4), "2 days 3 hours"),
        (timedelta(seconds=45), "45 seconds"),
        (timedelta(0), ""),
        (None, ""),
    ],
)
def test_a_lockout_duration_reads_as_words(duration: timedelta | None, said: str) -> None:
    assert human_duration(duration) == said


def test_the_lockout_page_says_how_long_in_words(client: Client, db: None, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = 1.0
    MembershipFactory(company=CompanyFactory(), user=UserFactory(email="locked@x.example"))
    for _ in range(2):
        client.post("/accounts/login/", {"username": "locked@x.example", "password": "wrong-guess"})

    page = client.post("/accounts/login/", {"username": "locked@x.example", "password": "wrong-guess"})

    assert page.status_code == 429
    assert "locked for 1 hour after repeated wrong passwords" in page.content.decode()
    assert "PT1H" not in page.content.decode()
