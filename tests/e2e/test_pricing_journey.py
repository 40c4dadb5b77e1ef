from __future__ import annotations

from decimal import Decimal

import pytest

from apps.accounts.models import Role, StaffRole
from apps.pricing.models import CompanyPricing
from tests.accounts.factories import PASSWORD, CompanyFactory, MembershipFactory, UserFactory
from tests.catalog.factories import ProductFactory
from tests.pricing.factories import PriceTierFactory, TierPriceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_manager_changes_a_tier_price_and_a_buyer_of_that_tier_sees_it(  # type: ignore[no-untyped-def]
    live_server, page, browser, staff_factory
) -> None:
    gold = PriceTierFactory(name="Gold", default_discount_percent=Decimal("10"))
    acme = CompanyFactory(name="Acme Hardware Co.")
    CompanyPricing.objects.create(company=acme, tier=gold)
    MembershipFactory(company=acme, role=Role.BUYER, user=UserFactory(email="buyer@acme.example"))
    valve = ProductFactory(sku="VALVE-12", name="Brass Ball Valve", list_price=Decimal("20.0000"))
    row = TierPriceFactory(tier=gold, product=valve, unit_price=Decimal("17.0000"))
    staff_factory(StaffRole.ACCOUNT_MANAGER, email="manager@wholesale.example")

    buyer = browser.new_context().new_page()
    buyer.set_default_timeout(15_000)
    _sign_in(buyer, live_server.url, "buyer@acme.example")
    buyer.goto(f"{live_server.url}/catalog/?q=VALVE-12")
    assert buyer.locator('[data-sku="VALVE-12"] [data-field="price"]').inner_text().startswith("17.0000 USD")

    _sign_in(page, live_server.url, "manager@wholesale.example")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pricing").click()
    page.get_by_role("link", name="Tier prices").click()
    page.locator(f"#price-{row.pk}").get_by_role("link", name="Edit").click()
    page.get_by_label("Unit price").fill("15.75")
    page.get_by_role("button", name="Save price").click()
    page.locator(f"#price-{row.pk} [data-field='unit-price']").filter(has_text="15.7500 USD").wait_for()

    buyer.reload()
    assert buyer.locator('[data-sku="VALVE-12"] [data-field="price"]').inner_text().startswith("15.7500 USD")
    buyer.context.close()
