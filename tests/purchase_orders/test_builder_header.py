"""The draft's header: the company's default ship-to is preselected, and what the submit needs is not
labelled optional (Django test client, the real form and template)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from apps.accounts.models import Role
from apps.purchase_orders.models import PurchaseOrder
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory
from tests.catalog.factories import ProductFactory


@pytest.fixture
def shop(db: None) -> dict:
    company = CompanyFactory()
    buyer = MembershipFactory(company=company, role=Role.BUYER).user
    ProductFactory(sku="BOLT", list_price=Decimal("0.5000"))
    other = ShipToAddressFactory(company=company, label="Side door", is_default=False)
    default = ShipToAddressFactory(company=company, label="Main dock", is_default=True)
    ShipToAddressFactory(label="Someone else's dock", is_default=True)  # another company's default
    client = Client()
    client.force_login(buyer)
    return {"company": company, "buyer": buyer, "client": client, "default": default, "other": other}


def _label(html: str, field: str) -> str:
    match = re.search(rf'<label for="id_{field}">(.*?)</label>', html, re.S)
    assert match, f"no label for {field}"
    return match.group(1)


def _selected(html: str) -> list[str]:
    select = re.search(r'<select name="ship_to".*?</select>', html, re.S)
    assert select
    return re.findall(r'<option value="(\d+)"[^>]*selected', select.group(0))


def test_a_new_draft_preselects_the_company_default_ship_to(shop: dict) -> None:
    html = shop["client"].get("/orders/draft/").content.decode()

    assert _selected(html) == [str(shop["default"].pk)]


def test_a_draft_keeps_the_address_the_buyer_chose(shop: dict) -> None:
    client = shop["client"]
    response = client.post(
        "/orders/draft/header/", {"customer_po_number": "PO-1", "ship_to": shop["other"].pk}
    )
    assert response.status_code == 200

    html = client.get("/orders/draft/").content.decode()

    assert _selected(html) == [str(shop["other"].pk)]
    assert PurchaseOrder.objects.get(customer_po_number="PO-1").ship_to == shop["other"]


def test_what_the_submit_requires_is_not_labelled_optional(shop: dict) -> None:
    html = shop["client"].get("/orders/draft/").content.decode()

    assert "optional" not in _label(html, "customer_po_number")
    assert "optional" not in _label(html, "ship_to")
    assert "(optional)" in _label(html, "requested_date")
    assert "(optional)" in _label(html, "notes")


def test_saving_the_header_without_a_ship_to_is_refused_and_changes_nothing(shop: dict) -> None:
    client = shop["client"]
    client.get("/orders/draft/")
    draft = PurchaseOrder.objects.get(buyer=shop["buyer"])

    response = client.post("/orders/draft/header/", {"customer_po_number": "PO-2", "ship_to": ""})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    draft.refresh_from_db()
    assert (draft.customer_po_number, draft.ship_to_id) == ("", None)
