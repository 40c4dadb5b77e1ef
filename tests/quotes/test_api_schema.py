"""The quote API's responses match its OpenAPI schema on a real quote: the schemathesis run of
tests/purchase_orders/test_api_schema.py covers every operation, but its quote ids find nothing (404s);
here every generated call on a quote is aimed at a quote of the buyer's own company, first offered, so
the validation, conflict and success answers are checked too. 0 server errors, 0 schema violations."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from config.wsgi import application
from tests.purchase_orders.test_api_schema import CHECKS
from tests.quotes.api_support import offered
from tests.quotes.conftest import Team


@pytest.fixture
def offered_quote(team: Team) -> tuple[str, int]:
    """The buyer's token and a quote of their company with an offer on the table."""
    return Token.objects.create(user=team.buyer).key, offered(team).pk


@pytest.fixture
def wsgi_requests_in_the_test_transaction(offered_quote: tuple[str, int]):  # type: ignore[no-untyped-def]
    """As in the order API's schema test: requests go straight to the WSGI app inside the test's
    transaction, so the start and end of a request must not close the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application).include(
    path_regex="^/api/v1/quotes/"
)


@schema.parametrize()
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.usefixtures("wsgi_requests_in_the_test_transaction")
def test_every_quote_response_matches_the_schema(case, offered_quote: tuple[str, int]) -> None:  # type: ignore[no-untyped-def]
    token, quote_id = offered_quote
    if case.path_parameters and "quote_id" in case.path_parameters:
        case.path_parameters["quote_id"] = quote_id
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)


def test_the_schema_documents_every_quote_operation_and_its_answers(client) -> None:  # type: ignore[no-untyped-def]
    document = client.get("/api/schema/?format=json").json()
    paths = document["paths"]

    operations = {
        (path, method): operation["operationId"]
        for path, methods in paths.items()
        if path.startswith("/api/v1/quotes/")
        for method, operation in methods.items()
        if method in ("get", "post")
    }
    accept = paths["/api/v1/quotes/{quote_id}/accept/"]["post"]

    assert operations == {
        ("/api/v1/quotes/", "get"): "quotes_list",
        ("/api/v1/quotes/", "post"): "quotes_request",
        ("/api/v1/quotes/{quote_id}/", "get"): "quotes_read",
        ("/api/v1/quotes/{quote_id}/counter/", "post"): "quotes_counter",
        ("/api/v1/quotes/{quote_id}/accept/", "post"): "quotes_accept",
        ("/api/v1/quotes/{quote_id}/close/", "post"): "quotes_close",
    }
    assert set(accept["responses"]) == {"200", "400", "401", "403", "404", "409"}
    assert "already ordered" in accept["responses"]["409"]["description"]
    assert set(paths["/api/v1/quotes/"]["post"]["responses"]) == {"200", "201", "400", "401", "403", "409"}
    assert any(parameter["name"] == "Idempotency-Key" for parameter in accept["parameters"])
    offered_line = document["components"]["schemas"]["QuoteOfferLineOutput"]["properties"]
    assert offered_line["unit_price"] == {
        "type": "string",
        "format": "decimal",
        "pattern": offered_line["unit_price"]["pattern"],
    }
    assert not {"cost_price", "list_price", "reference_price", "margin"} & set(offered_line)
