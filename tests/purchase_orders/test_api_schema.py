"""The OpenAPI schema matches every response of the API: a bounded, reproducible schemathesis run over
every operation under /api/v1/, as a buyer with a real token, against the Django WSGI app on the test
database. 0 server errors and 0 schema violations (status codes, content types, headers, bodies)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts.models import Role
from config.wsgi import application
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory
from tests.catalog.factories import ProductFactory

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def buyer_token(db: None) -> str:
    """A buyer of a company with a default ship-to, products to order and an order to read."""
    company = CompanyFactory()
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    ShipToAddressFactory(company=company, is_default=True)
    ProductFactory(sku="BOLT", list_price=Decimal("0.5000"))
    ProductFactory(sku="DEAR", list_price=Decimal("999999999999.9999"))
    key = Token.objects.create(user=buyer).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    created = client.post(
        "/api/v1/purchase-orders/",
        {"po_number": "PO-1", "lines": [{"sku": "BOLT", "quantity": "2"}]},
        format="json",
    )
    assert created.status_code == 201
    return key


@pytest.fixture
def wsgi_requests_in_the_test_transaction(buyer_token: str):  # type: ignore[no-untyped-def]
    """Requests go straight to the WSGI app, inside the test's transaction: as Django's test client does,
    keep the start and end of a request from closing the test's database connection (after the set-up's
    own test-client requests, which connect the handlers again when they finish)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded from the app itself when the module is collected (the schema view reads no database); one test per
# operation under /api/v1/, so an operation added later is covered without touching this file.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application).include(
    path_regex="^/api/v1/"
)


@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,  # the same examples on every run
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.usefixtures("wsgi_requests_in_the_test_transaction")
def test_every_response_matches_the_schema(case, buyer_token: str) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers={"Authorization": f"Token {buyer_token}"}, checks=CHECKS)


def test_the_schema_declares_the_list_envelopes_and_error_bodies(client) -> None:  # type: ignore[no-untyped-def]
    document = client.get("/api/schema/?format=json").json()
    orders = document["paths"]["/api/v1/purchase-orders/"]
    catalog = document["paths"]["/api/v1/catalog/products/"]

    def body(operation: dict, code: str) -> dict:
        schema = operation["responses"][code]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return schema

    assert set(body(orders["get"], "200")["properties"]) == {"results"}
    assert set(body(catalog["get"], "200")["properties"]) == {"count", "page", "results"}
    assert {"lines", "detail", "Idempotency-Key"} <= set(body(orders["post"], "400")["properties"])
    assert body(orders["post"], "409")["properties"] == {"detail": {"type": "string"}}
    header = next(p for p in orders["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert header["schema"]["maxLength"] == 200
