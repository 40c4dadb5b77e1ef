"""Buyers see their own prices only: on the page, in the htmx fragment and through the API."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client

from apps.accounts.models import Role
from apps.pricing.models import CompanyPricing
from tests.accounts.factories import CompanyFactory
from tests.catalog.factories import ProductFactory
from tests.pricing.factories import ContractPriceFactory, PriceTierFactory, TierPriceFactory

D = Decimal


@pytest.fixture
def setup(db: None, member_factory: Callable) -> dict:
    acme, globex = CompanyFactory(name="Acme"), CompanyFactory(name="Globex")
    gold = PriceTierFactory(name="Gold", default_discount_percent=D("10"))
    CompanyPricing.objects.create(company=acme, tier=gold)
    valve = ProductFactory(sku="VALVE-1", name="Brass Valve", list_price=D("20.0000"))
    TierPriceFactory(tier=gold, product=valve, min_quantity=D("50"), unit_price=D("15.5000"))
    ContractPriceFactory(company=globex, product=valve, unit_price=D("11.1111"))
    return {
        "acme_buyer": member_factory(acme, Role.BUYER).user,
        "globex_viewer": member_factory(globex, Role.VIEWER).user,
        "valve": valve,
    }


def test_buyer_sees_own_price_breaks_and_next_break(client: Client, setup: dict) -> None:
    client.force_login(setup["acme_buyer"])

    html = client.get("/catalog/?q=valve").content.decode()

    assert "18.0000 USD" in html  # Gold: 10% off 20.00
    assert "Order 50 for 15.5000 each" in html
    assert "11.1111" not in html  # Globex's contract price


def test_other_company_sees_its_contract_and_never_acmes_tier(client: Client, setup: dict) -> None:
    client.force_login(setup["globex_viewer"])

    page = client.get("/catalog/").content.decode()
    fragment = client.get("/catalog/?q=VALVE", HTTP_HX_REQUEST="true").content.decode()
    api = client.get("/api/v1/catalog/products/?q=VALVE").json()

    for html in (page, fragment):
        assert "11.1111 USD" in html
        assert "15.5000" not in html
        assert "18.0000" not in html
    assert api["results"][0]["unit_price"] == "11.1111"
    assert api["results"][0]["price_source"] == "contract"
    assert "15.5000" not in str(api)


def test_catalog_api_refuses_staff_and_anonymous(
    client: Client, setup: dict, staff_factory: Callable
) -> None:
    from apps.accounts.models import StaffRole

    assert client.get("/api/v1/catalog/products/").status_code == 401  # no credentials: authenticate
    client.force_login(staff_factory(StaffRole.ADMIN))
    assert client.get("/api/v1/catalog/products/").status_code == 403


def test_catalog_page_queries_do_not_grow_with_the_page(
    client: Client, setup: dict, django_assert_max_num_queries: Callable
) -> None:
    client.force_login(setup["acme_buyer"])
    ProductFactory.create_batch(60)

    with django_assert_max_num_queries(12):
        response = client.get("/catalog/")
    assert response.content.decode().count("data-sku=") == 50


def test_catalog_filters_by_category(client: Client, setup: dict) -> None:
    client.force_login(setup["acme_buyer"])
    other = ProductFactory(name="Nitrile Gloves")

    html = client.get(f"/catalog/?category={other.category_id}").content.decode()

    assert "Nitrile Gloves" in html
    assert "Brass Valve" not in html


def test_openapi_schema_describes_the_catalog(client: Client, db: None) -> None:
    schema = client.get("/api/schema/").content.decode()

    assert "/api/v1/catalog/products/" in schema


def test_page_links_keep_the_filters(client: Client, setup: dict) -> None:
    client.force_login(setup["acme_buyer"])
    ProductFactory.create_batch(60, name="Valve body")

    html = client.get("/catalog/?q=valve&category=").content.decode()

    assert 'href="?q=valve&amp;category=&amp;page=2"' in html
