from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from apps.accounts.models import StaffRole
from tests.catalog.factories import ProductFactory


def test_product_list_is_paged_searchable_and_constant_in_queries(
    client: Client, staff_factory: Callable, django_assert_max_num_queries: Callable
) -> None:
    client.force_login(staff_factory(StaffRole.ACCOUNT_MANAGER))
    ProductFactory.create_batch(60)
    ProductFactory(sku="VALVE-1", name="Brass Ball Valve")

    with django_assert_max_num_queries(12):
        html = client.get("/manager/products/").content.decode()
    assert html.count('data-sync-state="never"') == 50  # one page, a badge per product

    found = client.get("/manager/products/?q=valve", HTTP_HX_REQUEST="true").content.decode()
    assert "Brass Ball Valve" in found
    assert "TEST-" not in found
