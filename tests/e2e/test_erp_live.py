from __future__ import annotations

from decimal import Decimal

import pytest

from apps.accounts.models import StaffRole
from apps.catalog.erp import PRODUCTS
from apps.catalog.models import Product
from apps.erp import inbound
from apps.erp.connectors.tryton import TrytonConnector
from tests.accounts.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_erp_price_change_shows_in_an_open_product_page_without_reload(  # type: ignore[no-untyped-def]
    live_server, page, erp_connection, erp_admin, staff_factory
) -> None:
    connector = TrytonConnector.for_connection(erp_connection)
    inbound.pull_stream(connection=erp_connection, stream=PRODUCTS, connector=connector)
    product = Product.objects.get(sku="SKU-00010")
    staff_factory(StaffRole.ACCOUNT_MANAGER, email="manager@wholesale.example")

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("manager@wholesale.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/manager/products/{product.pk}/")
    assert page.locator('[data-field="list-price"]').inner_text() == f"{product.list_price} USD"
    page.evaluate("window.__noReload = true")

    # Someone changes the price in the ERP; the next scheduled pull brings it in.
    (row,) = erp_admin.model("product.product", "read", [int(product.erp_id)], ["template"])
    erp_admin.model("product.template", "write", [row["template"]], {"list_price": Decimal("123.4500")})
    inbound.pull_stream(connection=erp_connection, stream=PRODUCTS, connector=connector)
    connector.close()

    # The open page polls its panel every 10 s and shows the new price and the timeline entry.
    price = page.locator('[data-field="list-price"]')
    price.filter(has_text="123.4500 USD").wait_for(timeout=20_000)
    assert page.evaluate("window.__noReload") is True
    assert "list price" in page.locator(".timeline").inner_text()
