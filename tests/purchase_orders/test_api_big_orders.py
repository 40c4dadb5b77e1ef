"""Big API orders never break a list: every look-up is set-based, whatever the number of lines.

One order of 10,000 request lines (1,164 products once merged) used to make the order list a 500 on
SQLite ("Expression tree is too large": the forward prefetch of the lines' products put one OR per
product in a query). Run on PostgreSQL by the suite; the same file passes with DATABASE_URL=sqlite:///...
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.catalog.models import Category, Product
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory

SKUS = 1_164
LINES = 10_000
LIST = "/api/v1/purchase-orders/"
QUERIES = 4


@pytest.fixture
def shop(db: None) -> dict:
    company = CompanyFactory()
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    ShipToAddressFactory(company=company, is_default=True)
    category = Category.objects.create(erp_id="big", name="Big")
    Product.objects.bulk_create(
        Product(
            erp_id=f"big-{n}",
            sku=f"BIG-{n:05d}",
            name=f"Big product {n}",
            category=category,
            unit="u",
            list_price=Decimal("1.2500"),
        )
        for n in range(SKUS)
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=buyer).key}")
    web = Client()
    web.force_login(buyer)
    return {"api": api, "web": web}


def _big_order(api: APIClient, number: str, skus: int = SKUS, lines: int = LINES) -> dict:
    body = {
        "po_number": number,
        "lines": [{"sku": f"big-{n % skus:05d}", "quantity": "1"} for n in range(lines)],
    }
    response = api.post(LIST, body, format="json")
    assert response.status_code == 201, response.content[:500]
    return response.json()


def test_an_order_of_ten_thousand_lines_is_listed_and_read_everywhere(shop: dict) -> None:
    created = _big_order(shop["api"], "BIG-1")

    listed = shop["api"].get(LIST)
    read = shop["api"].get(f"{LIST}{created['id']}/")
    page = shop["web"].get("/orders/")
    detail = shop["web"].get(f"/orders/{created['id']}/")

    assert len(created["lines"]) == SKUS
    assert created["total_amount"] == f"{Decimal('1.25') * LINES:.2f}"
    assert listed.status_code == 200
    assert [len(order["lines"]) for order in listed.json()["results"]] == [SKUS]
    assert read.status_code == 200
    assert len(read.json()["lines"]) == SKUS
    assert page.status_code == 200
    assert "BIG-1" in page.content.decode()
    assert detail.status_code == 200
    assert "BIG-01163" in detail.content.decode()


def test_the_lists_query_count_does_not_grow_with_orders_or_lines(
    shop: dict, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    _big_order(shop["api"], "ONE", skus=3, lines=3)
    # The token, the membership, the page of orders, and all their lines with their products.
    with django_assert_max_num_queries(QUERIES):
        assert len(shop["api"].get(LIST).json()["results"]) == 1

    for n in range(4):
        _big_order(shop["api"], f"MANY-{n}", skus=400, lines=800)
    with django_assert_max_num_queries(QUERIES):
        assert len(shop["api"].get(LIST).json()["results"]) == 5
