from __future__ import annotations

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.accounts.management.commands.seed_demo import DEMO_PASSWORD
from apps.accounts.models import Company, Membership, Role, ShipToAddress, StaffRole
from apps.accounts.permissions import user_staff_roles


def test_seed_demo_is_complete_and_idempotent(db: None) -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    counts = (
        Company.objects.count(),
        Membership.objects.count(),
        ShipToAddress.objects.count(),
        get_user_model().objects.count(),
    )
    call_command("seed_demo", stdout=StringIO())

    assert counts == (
        Company.objects.count(),
        Membership.objects.count(),
        ShipToAddress.objects.count(),
        get_user_model().objects.count(),
    )
    assert Company.objects.count() >= 3
    for company in Company.objects.all():
        assert set(company.memberships.values_list("role", flat=True)) == set(Role.values)
        assert company.ship_to_addresses.filter(is_default=True).count() == 1
    held_roles = {role for user in get_user_model().objects.all() for role in user_staff_roles(user)}
    assert held_roles == set(StaffRole)
    printed = out.getvalue()
    assert DEMO_PASSWORD in printed
    assert "buyer@acme.example" in printed
    assert "finance@wholesale.example" in printed
    user = get_user_model().objects.get(email="buyer@acme.example")
    assert user.check_password(DEMO_PASSWORD)


def test_seed_demo_prices_the_demo_accounts_once_products_exist(db: None) -> None:
    from apps.pricing.models import CompanyPricing, ContractPrice, PriceTier, TierPrice
    from tests.catalog.factories import ProductFactory

    call_command("seed_demo", stdout=StringIO())
    assert PriceTier.objects.count() == 5
    assert CompanyPricing.objects.filter(tier__isnull=False).count() == 4
    assert not TierPrice.objects.exists()

    ProductFactory.create_batch(12)
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())

    assert TierPrice.objects.count() == 16
    assert ContractPrice.objects.count() == 4


def test_seed_demo_puts_one_order_on_credit_hold_once_the_erp_limit_is_known(db: None) -> None:
    from decimal import Decimal

    from apps.credit.models import CreditAccount, CreditHold
    from apps.purchase_orders.models import PurchaseOrder
    from tests.catalog.factories import ProductFactory

    call_command("seed_demo", stdout=StringIO())
    assert not PurchaseOrder.objects.exists()  # no products, no limit yet: nothing to show

    ProductFactory(list_price=Decimal("125.0000"))
    CreditAccount.objects.create(
        company=Company.objects.get(erp_customer_code="CUST-003"), credit_limit=Decimal("10000.00")
    )
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=StringIO())

    order = PurchaseOrder.objects.get()
    assert (order.customer_po_number, order.status) == ("HP-DEMO-HOLD", PurchaseOrder.Status.CREDIT_HOLD)
    assert CreditHold.objects.get().reasons == ["over_limit"]
    assert "Demo order HP-DEMO-HOLD of Harbor Point Builders Inc. is credit hold." in out.getvalue()
