"""Who may use each quote endpoint. Company users only, as the purchase order API: buyers and company
admins read and act, approvers and viewers only read, another company's users find nothing (404); the
wholesaler's staff (account managers, portal admins) and users of no company get a 403, anonymous
callers a 401. A refused call changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from apps.accounts.models import Role, StaffRole
from apps.accounts.services import staff_user_set_roles
from tests.accounts.factories import CompanyFactory, MembershipFactory, UserFactory
from tests.quotes.api_support import LIST, client_for, counts, offered, state, url
from tests.quotes.conftest import Team

ACTORS = ["anon", "admin", "buyer", "approver", "viewer", "norole", "manager", "staff", "other"]
ENDPOINTS = ["list", "read", "request", "counter", "accept", "close"]
OK = {"list": 200, "read": 200, "request": 201, "counter": 200, "accept": 200, "close": 200}
READ_ONLY = {"list": 200, "read": 200, "request": 403, "counter": 403, "accept": 403, "close": 403}
EXPECTED: dict[str, dict[str, int]] = {
    "anon": dict.fromkeys(ENDPOINTS, 401),
    "admin": OK,
    "buyer": OK,
    "approver": READ_ONLY,
    "viewer": READ_ONLY,
    "norole": dict.fromkeys(ENDPOINTS, 403),
    "manager": dict.fromkeys(ENDPOINTS, 403),  # the company's own account manager
    "staff": dict.fromkeys(ENDPOINTS, 403),  # a portal admin
    # another company's buyer: their own (empty) list, their own new quote, and no quote of this company
    "other": {"list": 200, "read": 404, "request": 201, "counter": 404, "accept": 404, "close": 404},
}


def _actor(name: str, team: Team) -> User | None:
    if name == "anon":
        return None
    if name == "buyer":
        return team.buyer
    if name == "manager":
        return team.manager
    if name in ("admin", "approver", "viewer"):
        return MembershipFactory(company=team.company, role=Role(name)).user
    if name == "other":
        return MembershipFactory(company=CompanyFactory(), role=Role.BUYER).user
    user = UserFactory()
    if name == "staff":
        staff_user_set_roles(user=user, roles=[StaffRole.ADMIN])
    return user


def _call(client: APIClient, endpoint: str, quote: Any) -> Any:
    if endpoint == "list":
        return client.get(LIST)
    if endpoint == "read":
        return client.get(url(quote))
    body: dict[str, Any] = {
        "request": {"message": "Price?", "lines": [{"sku": "BOLT", "quantity": "5"}]},
        "counter": {"message": "Less?"},
        "accept": {"customer_po_number": "PO-PERM"},
        "close": {},
    }[endpoint]
    target = LIST if endpoint == "request" else url(quote, endpoint)
    return client.post(target, body, format="json", HTTP_IDEMPOTENCY_KEY="perm")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("actor", ACTORS)
def test_who_may_use_each_endpoint(team: Team, actor: str, endpoint: str) -> None:
    quote = offered(team)
    client = client_for(_actor(actor, team))
    before, quote_before = counts(), state(quote)

    response = _call(client, endpoint, quote)

    expected = EXPECTED[actor][endpoint]
    assert response.status_code == expected, response.content
    assert set(response.json()) >= (
        {"detail"} if expected >= 400 else {"results"} if endpoint == "list" else {"id"}
    )
    if expected >= 400 or endpoint in ("list", "read"):
        assert (counts(), state(quote)) == (before, quote_before)
    if actor == "other" and endpoint == "list":
        assert response.json()["results"] == []


def test_a_token_that_is_no_token_is_a_401(team: Team) -> None:
    quote = offered(team)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    before = counts()

    assert client.get(LIST).status_code == 401
    assert client.post(url(quote, "accept"), {}, format="json").status_code == 401
    assert counts() == before


def test_a_viewer_is_told_their_role_only_reads(team: Team) -> None:
    quote = offered(team)
    viewer = client_for(MembershipFactory(company=team.company, role=Role.VIEWER).user)

    response = viewer.post(url(quote, "accept"), {}, format="json")

    assert response.json() == {
        "detail": "Your role can read quotes but not ask for, counter, accept or close them."
    }


def test_staff_are_sent_to_the_portal_pages(team: Team) -> None:
    response = client_for(team.manager).get(LIST)

    assert response.json() == {"detail": "Only a company's users can use the quote API."}
