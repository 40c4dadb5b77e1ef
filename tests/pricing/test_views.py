from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.accounts.models import StaffRole
from apps.pricing.models import ContractPrice, PriceUpload, TierPrice
from tests.accounts.factories import CompanyFactory
from tests.catalog.factories import ProductFactory
from tests.pricing.factories import PriceTierFactory, TierPriceFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def manager_client(client: Client, staff_factory: Callable) -> Client:
    manager = staff_factory(StaffRole.ACCOUNT_MANAGER)
    client.force_login(manager)
    client.manager = manager  # type: ignore[attr-defined]
    return client


def test_inline_add_shows_field_errors_and_keeps_input(manager_client: Client) -> None:
    tier = PriceTierFactory()
    ProductFactory(sku="SKU-1")

    response = manager_client.post(
        f"/pricing/tiers/{tier.pk}/prices/add/",
        {"sku": "SKU-1", "min_quantity": "1", "unit_price": "-2", "valid_from": "2026-12-01"},
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "A price cannot be negative." in html
    assert 'value="SKU-1"' in html
    assert not TierPrice.objects.exists()


def test_inline_overlap_is_a_form_error_not_a_500(manager_client: Client) -> None:
    row = TierPriceFactory()

    response = manager_client.post(
        f"/pricing/tiers/{row.tier_id}/prices/add/",
        {"sku": row.product.sku, "min_quantity": "1", "unit_price": "2", "valid_from": "2026-06-01"},
        **HTMX,
    )

    assert "Overlaps an existing price" in response.content.decode()
    assert TierPrice.objects.count() == 1


def test_inline_edit_returns_the_row(manager_client: Client) -> None:
    row = TierPriceFactory(unit_price=Decimal("8.0000"))

    response = manager_client.post(
        f"/pricing/tiers/{row.tier_id}/prices/{row.pk}/",
        {"sku": row.product.sku, "min_quantity": "1", "unit_price": "7.25", "valid_from": "2026-01-01"},
        **HTMX,
    )

    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="price-{row.pk}">')
    assert "7.2500 USD" in html
    row.refresh_from_db()
    assert row.unit_price == Decimal("7.2500")


def test_contract_price_for_an_account_of_another_manager_is_404_and_unchanged(
    manager_client: Client, staff_factory: Callable
) -> None:
    foreign = CompanyFactory(account_manager=staff_factory(StaffRole.ACCOUNT_MANAGER))
    ProductFactory(sku="SKU-1")

    response = manager_client.post(
        f"/pricing/companies/{foreign.pk}/prices/add/",
        {"sku": "SKU-1", "min_quantity": "1", "unit_price": "1", "valid_from": "2026-12-01"},
    )

    assert response.status_code == 404
    assert not ContractPrice.objects.exists()


def test_csv_upload_preview_then_publish(manager_client: Client, django_capture_on_commit_callbacks) -> None:
    company = CompanyFactory(account_manager=manager_client.manager, erp_customer_code="CUST-77")  # type: ignore[attr-defined]
    ProductFactory(sku="SKU-1", list_price=Decimal("10"))
    csv = (
        b"tier,company_code,sku,min_quantity,unit_price,valid_from,valid_to\n"
        b",CUST-77,SKU-1,1,8.5,2026-01-01,\n"
        b",CUST-77,SKU-X,1,1,,\n"
    )

    response = manager_client.post(
        "/pricing/uploads/new/", {"file": SimpleUploadedFile("p.csv", csv)}, follow=True
    )

    html = response.content.decode()
    assert "1 line cannot be used; the others are kept." in html
    assert "unknown SKU &#x27;SKU-X&#x27;" in html
    assert 'data-impact="accounts">1<' in html
    assert f'data-impact="account-names">{company.name}<' in html
    assert 'data-impact="average">-15.00%' in html
    upload = PriceUpload.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(f"/pricing/uploads/{upload.pk}/publish/")

    upload.refresh_from_db()
    assert upload.status == PriceUpload.Status.PUBLISHED
    assert ContractPrice.objects.get(company=company).unit_price == Decimal("8.5000")
    log = manager_client.get("/pricing/audit/").content.decode()
    assert "Contract price of SKU-1" in log


def test_upload_that_is_not_csv_is_explained(manager_client: Client) -> None:
    response = manager_client.post(
        "/pricing/uploads/new/", {"file": SimpleUploadedFile("p.csv", b"\x00\x01\x02\xff\xfe")}
    )

    assert response.status_code == 400
    assert "Missing column" in response.content.decode() or "not text" in response.content.decode()
    assert not PriceUpload.objects.exists()


def test_removing_a_price_is_audited_and_gone(manager_client: Client) -> None:
    from apps.pricing.models import PriceChange

    row = TierPriceFactory(unit_price=Decimal("8.0000"))

    response = manager_client.post(f"/pricing/tiers/{row.tier_id}/prices/{row.pk}/", {"delete": "1"}, **HTMX)

    assert response.status_code == 200
    assert not TierPrice.objects.filter(pk=row.pk).exists()
    change = PriceChange.objects.get()
    assert change.description.endswith("removed")
    assert change.old_value.startswith("8.0000 USD")
    assert change.actor == manager_client.manager  # type: ignore[attr-defined]
