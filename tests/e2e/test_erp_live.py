from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from apps.accounts.models import Role, StaffRole
from apps.catalog.erp import PRODUCTS
from apps.catalog.models import Product
from apps.erp import inbound
from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.watcher import watch_forever
from tests.accounts.factories import PASSWORD, CompanyFactory, MembershipFactory, UserFactory

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


def test_erp_price_change_appears_in_an_open_catalog_page_without_reload(  # type: ignore[no-untyped-def]
    live_server, page, erp_connection, erp_admin
) -> None:
    """Issue 12: the price is changed in the real Tryton; the watcher (running as in a qcluster) pulls it
    and the open catalog page refreshes its results on its next cheap change poll."""
    inbound.pull_all(connection=erp_connection)
    product = Product.objects.get(sku="SKU-00010")
    company = CompanyFactory(name="Watcher Hardware Co.")
    MembershipFactory(company=company, role=Role.BUYER, user=UserFactory(email="buyer@watcher.example"))
    stop = threading.Event()
    watcher = threading.Thread(target=watch_forever, args=(stop,), daemon=True)
    watcher.start()
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email").fill("buyer@watcher.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{live_server.url}/catalog/?q=SKU-00010")
        price = page.locator('[data-sku="SKU-00010"] [data-field="price"]')
        assert price.inner_text().startswith(f"{product.list_price} USD")
        page.evaluate("window.__noReload = true")

        (row,) = erp_admin.model("product.product", "read", [int(product.erp_id)], ["template"])
        erp_admin.model("product.template", "write", [row["template"]], {"list_price": Decimal("234.5600")})
        changed = time.monotonic()

        price.filter(has_text="234.5600 USD").wait_for(timeout=15_000)
        seconds = time.monotonic() - changed
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert page.evaluate("window.__noReload") is True
    assert seconds < 8  # watcher look (2 s) + pull + page poll (2 s), with room for a loaded machine
