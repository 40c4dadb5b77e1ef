"""The procurement API: token auth, idempotent creates, company scoping, field-level errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory
from tests.catalog.factories import ProductFactory

BODY = {
    "po_number": "PO-API-1",
    "lines": [{"sku": "bolt", "quantity": "10"}, {"sku": "NUT", "quantity": "4", "note": "zinc"}],
}


@pytest.fixture
def api(db: None) -> dict:
    company = CompanyFactory()
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    ShipToAddressFactory(company=company, is_default=True)
    ProductFactory(sku="BOLT", list_price=Decimal("0.5000"))
    ProductFactory(sku="NUT", list_price=Decimal("0.2500"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=buyer).key}")
    return {"client": client, "company": company, "buyer": buyer}


def test_create_with_a_token_submits_and_freezes_prices(api: dict) -> None:
    response = api["client"].post("/api/v1/purchase-orders/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 201
    data = response.json()
    assert data["po_number"] == "PO-API-1"
    assert data["status"] == "approved"
    assert data["total_amount"] == "6.00"
    assert [(line["sku"], line["unit_price"]) for line in data["lines"]] == [
        ("BOLT", "0.5000"),
        ("NUT", "0.2500"),
    ]


def test_a_retry_with_the_same_key_returns_the_same_order(api: dict) -> None:
    first = api["client"].post("/api/v1/purchase-orders/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api["client"].post("/api/v1/purchase-orders/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert PurchaseOrder.objects.count() == 1


def test_the_same_key_with_another_body_is_a_conflict_and_changes_nothing(api: dict) -> None:
    api["client"].post("/api/v1/purchase-orders/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    response = api["client"].post(
        "/api/v1/purchase-orders/",
        {**BODY, "po_number": "PO-API-2"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert response.status_code == 409
    assert PurchaseOrder.objects.count() == 1


def test_bad_lines_get_field_level_reasons_and_nothing_is_created(api: dict) -> None:
    body = {
        "po_number": "PO-BAD",
        "lines": [{"sku": "BOLT", "quantity": "-3"}, {"sku": "NOPE", "quantity": "1"}],
    }

    response = api["client"].post("/api/v1/purchase-orders/", body, format="json")

    assert response.status_code == 400
    assert response.json()["lines"] == {
        "0": ["quantity -3 must be more than zero"],
        "1": ["NOPE: unknown SKU"],
    }
    assert not PurchaseOrder.objects.exists()


def test_missing_fields_and_duplicate_numbers_are_400s(api: dict) -> None:
    assert api["client"].post("/api/v1/purchase-orders/", {"lines": []}, format="json").json().keys() >= {
        "po_number",
        "lines",
    }
    api["client"].post("/api/v1/purchase-orders/", BODY, format="json")

    response = api["client"].post("/api/v1/purchase-orders/", BODY, format="json")

    assert response.status_code == 400
    assert "already has an order PO-API-1" in response.json()["po_number"][0]


def test_list_and_read_are_scoped_to_the_company(api: dict) -> None:
    created = api["client"].post("/api/v1/purchase-orders/", BODY, format="json").json()
    stranger = APIClient()
    stranger.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=MembershipFactory(role=Role.BUYER).user).key}"
    )

    assert [
        order["po_number"] for order in api["client"].get("/api/v1/purchase-orders/").json()["results"]
    ] == ["PO-API-1"]
    assert api["client"].get(f"/api/v1/purchase-orders/{created['id']}/").status_code == 200
    assert stranger.get("/api/v1/purchase-orders/").json()["results"] == []
    assert stranger.get(f"/api/v1/purchase-orders/{created['id']}/").status_code == 404


def test_viewers_cannot_create_and_bad_tokens_are_refused(api: dict) -> None:
    viewer = APIClient()
    viewer_user = MembershipFactory(company=api["company"], role=Role.VIEWER).user
    viewer.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=viewer_user).key}")
    nobody = APIClient()
    nobody.credentials(HTTP_AUTHORIZATION="Token not-a-token")

    assert viewer.post("/api/v1/purchase-orders/", BODY, format="json").status_code == 403
    assert nobody.get("/api/v1/purchase-orders/").status_code == 401
    assert not PurchaseOrder.objects.exists()


def test_the_openapi_schema_describes_the_order_api(api: dict) -> None:
    schema = APIClient().get("/api/schema/").content.decode()

    assert "/api/v1/purchase-orders/" in schema
    assert "Idempotency-Key" in schema


def test_an_order_over_the_credit_limit_is_created_on_hold_and_says_why(api: dict) -> None:
    from apps.credit.models import CreditAccount

    CreditAccount.objects.create(company=api["company"], credit_limit=Decimal("5.00"))

    response = api["client"].post("/api/v1/purchase-orders/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-9")
    listed = api["client"].get("/api/v1/purchase-orders/").json()

    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "credit_hold"
    assert data["credit_hold"]["status"] == "open"
    assert data["credit_hold"]["reasons"] == ["over_limit"]
    assert "over its credit limit of 5.00 USD by 1.00 USD" in data["credit_hold"]["message"]
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows[0]["credit_hold"]["status"] == "open"


def test_an_order_within_credit_has_no_hold(api: dict) -> None:
    response = api["client"].post("/api/v1/purchase-orders/", BODY, format="json")

    assert response.json()["credit_hold"] is None


@pytest.mark.parametrize("source", ["portal", "erp"])
def test_a_company_on_hold_gets_a_400_saying_why_and_nothing_is_created(api: dict, source: str) -> None:
    company = api["company"]
    company.status, company.hold_source, company.hold_reason = "on_hold", source, "two invoices 60 days late"
    company.save()

    response = api["client"].post("/api/v1/purchase-orders/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-h")

    assert response.status_code == 400
    assert response.json() == {
        "detail": [f"{company.name} is on hold and cannot submit orders: two invoices 60 days late."]
    }
    assert not PurchaseOrder.objects.exists()
