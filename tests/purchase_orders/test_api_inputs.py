"""Inputs that used to pass or 500 in the order API get a 400 naming the field, and nothing is created."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.purchase_orders.models import IdempotencyRecord, PurchaseOrder
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory
from tests.catalog.factories import ProductFactory

LIST = "/api/v1/purchase-orders/"


@pytest.fixture
def client(db: None) -> APIClient:  # type: ignore[override]
    company = CompanyFactory()
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    ShipToAddressFactory(company=company, is_default=True)
    ProductFactory(sku="BOLT", list_price=Decimal("0.5000"))
    ProductFactory(sku="DEAR", list_price=Decimal("999999999999.9999"))  # the most a price column holds
    ProductFactory(sku="GOLD", list_price=Decimal("40000000.0000"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=buyer).key}")
    return api


def _order(*lines: tuple[str, object], **fields: object) -> dict:
    return {"po_number": "PO-1", "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines], **fields}


def _refused(response, body: dict) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.content
    assert response.json() == body
    assert not PurchaseOrder.objects.exists()


def test_an_idempotency_key_longer_than_kept_is_a_400_naming_the_header(client: APIClient) -> None:
    response = client.post(LIST, _order(("BOLT", "1")), format="json", HTTP_IDEMPOTENCY_KEY="k" * 5000)

    _refused(
        response,
        {"Idempotency-Key": ["The Idempotency-Key header has 5,000 characters; at most 200 are kept."]},
    )
    assert not IdempotencyRecord.objects.exists()


def test_an_idempotency_key_of_the_longest_length_kept_works(client: APIClient) -> None:
    key = "k" * 200
    first = client.post(LIST, _order(("BOLT", "1")), format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = client.post(LIST, _order(("BOLT", "1")), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert (first.status_code, again.status_code) == (201, 200)
    assert IdempotencyRecord.objects.get().key == key


def test_a_huge_quantity_of_the_dearest_product_is_refused_on_its_line(client: APIClient) -> None:
    response = client.post(LIST, _order(("BOLT", "1"), ("DEAR", "999999999999")), format="json")

    _refused(
        response,
        {
            "lines": {
                "1": [
                    "quantity: 999999999999 of DEAR at 999999999999.9999 USD comes to 999,999,999,998,"
                    "999,900,000,000.00 USD; an order line holds less than 100,000,000,000,000."
                ]
            }
        },
    )


def test_a_total_past_the_amount_column_is_refused_as_a_whole(client: APIClient) -> None:
    # Each line fits (60,000,000,000,000 < 10^14), the two together do not.
    response = client.post(LIST, _order(("GOLD", "1500000"), ("GOLD", "0"), ("BOLT", "1")), format="json")
    assert response.status_code == 400  # the zero is refused first, on its line
    assert list(response.json()["lines"]) == ["1"]

    ProductFactory(sku="GOLD2", list_price=Decimal("40000000.0000"))
    response = client.post(LIST, _order(("GOLD", "1500000"), ("GOLD2", "1500000")), format="json")

    _refused(
        response,
        {
            "detail": [
                "The order comes to 120,000,000,000,000.00 USD; an order holds less than "
                "100,000,000,000,000. Split it into several orders."
            ]
        },
    )


@pytest.mark.parametrize(
    ("quantity", "reason"),
    [
        ("NaN", "quantity 'NaN' is not a number"),
        ("Infinity", "quantity 'Infinity' is not a number"),
        ("-Infinity", "quantity '-Infinity' is not a number"),
        ("1e30", "quantity 1e30 is too large"),
        ("1e20", "quantity 1e20 is too large"),
        ("1.00001", "quantity 1.00001 has more than 4 decimals"),
    ],
)
def test_quantities_that_are_no_number_or_too_large_are_refused_on_their_line(
    client: APIClient, quantity: str, reason: str
) -> None:
    _refused(client.post(LIST, _order(("BOLT", quantity)), format="json"), {"lines": {"0": [reason]}})


def test_json_nan_is_refused_before_anything_is_read(client: APIClient) -> None:
    response = client.post(
        LIST,
        b'{"po_number": "PO-1", "lines": [{"sku": "BOLT", "quantity": NaN}]}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]
    assert not PurchaseOrder.objects.exists()


def test_a_line_missing_a_field_is_said_in_the_same_shape_as_other_line_problems(client: APIClient) -> None:
    response = client.post(
        LIST,
        {"po_number": "PO-1", "lines": [{"sku": "BOLT", "quantity": "1"}, {"sku": "BOLT"}, "x"]},
        format="json",
    )

    _refused(
        response,
        {
            "lines": {
                "1": ["quantity: This field is required."],
                "2": ["Invalid data. Expected a dictionary, but got str."],
            }
        },
    )


def test_a_requested_date_in_the_past_is_refused_and_today_is_accepted(client: APIClient, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: the portal's today, not the server's
    today = timezone.localdate()

    past = client.post(
        LIST, _order(("BOLT", "1"), requested_date=f"{today - timedelta(days=1)}"), format="json"
    )
    _refused(past, {"requested_date": [f"Give today ({today}) or a later date."]})
    now = client.post(LIST, _order(("BOLT", "1"), requested_date=f"{today}"), format="json")

    assert now.status_code == 201
    assert now.json()["requested_date"] == f"{today}"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("1.000", "1"), ("3.0", "3"), ("1,000", "1000"), (1000, "1000"), ("2,500.00", "2500")],
)
def test_api_quantities_use_a_decimal_point_as_json_does(client: APIClient, sent: object, kept: str) -> None:
    response = client.post(LIST, _order(("BOLT", sent)), format="json")

    assert response.status_code == 201, response.content
    line = PurchaseOrder.objects.get().lines.get()
    assert line.quantity == Decimal(kept)
