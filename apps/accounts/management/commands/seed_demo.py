"""A believable demo: companies with addresses and users of every role, and the wholesaler's staff.

Idempotent: run it twice and nothing is duplicated; demo passwords are reset to the demo password.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Company, Membership, Role, ShipToAddress, StaffRole
from apps.accounts.services import ship_to_address_save, staff_user_set_roles

DEMO_PASSWORD = "demo-Portal-2026"  # noqa: S105 - printed to the person running the demo on purpose

STAFF = [
    ("admin@wholesale.example", "Ada", "Admin", [StaffRole.ADMIN]),
    ("manager@wholesale.example", "Marco", "Manager", [StaffRole.ACCOUNT_MANAGER]),
    ("manager2@wholesale.example", "Mia", "Moreau", [StaffRole.ACCOUNT_MANAGER]),
    ("finance@wholesale.example", "Fiona", "Finance", [StaffRole.FINANCE]),
]

COMPANIES: list[dict[str, Any]] = [
    {
        "name": "Acme Hardware Co.",
        "code": "CUST-001",
        "slug": "acme",
        "manager": "manager@wholesale.example",
        "phone": "+1 312 555 0142",
        "addresses": [
            ("Main warehouse", "1200 W Fulton St", "Chicago", "60607", "IL", "US", True),
            ("Store 14 (Evanston)", "820 Church St", "Evanston", "60201", "IL", "US", False),
        ],
    },
    {
        "name": "Globex Building Supply",
        "code": "CUST-002",
        "slug": "globex",
        "manager": "manager@wholesale.example",
        "phone": "+1 503 555 0199",
        "addresses": [
            ("Portland DC", "2300 NW Front Ave", "Portland", "97209", "OR", "US", True),
            ("Salem yard", "455 Commercial St SE", "Salem", "97301", "OR", "US", False),
        ],
    },
    {
        "name": "Harbor Point Builders Inc.",
        "code": "CUST-003",
        "slug": "harborpoint",
        "manager": "manager2@wholesale.example",
        "phone": "+1 512 555 0110",
        "addresses": [("Austin HQ", "4800 Riverside Dr", "Austin", "78741", "TX", "US", True)],
    },
    {
        "name": "Midwest Facility Services LLC",
        "code": "CUST-004",
        "slug": "midwest",
        "manager": "manager2@wholesale.example",
        "phone": "+1 614 555 0321",
        "on_hold": "Two invoices more than 60 days past due.",
        "addresses": [("Columbus depot", "14 Harbor Wharf", "Columbus", "43215", "OH", "US", True)],
    },
]

TIERS = [
    ("Bronze", "5.00"),
    ("Silver", "10.00"),
    ("Gold", "15.00"),
    ("Platinum", "20.00"),
    ("Diamond", "25.00"),
]

ROLE_NAMES = {
    Role.ADMIN: ("Alex", "Admin"),
    Role.BUYER: ("Bea", "Buyer"),
    Role.APPROVER: ("Arturo", "Approver"),
    Role.VIEWER: ("Vic", "Viewer"),
}


class Command(BaseCommand):
    help = "Create (or refresh) the demo companies, users and staff, and print the demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            logins = self._seed()
            self._seed_pricing()
        self._seed_credit_hold()
        self.stdout.write(
            self.style.SUCCESS("Demo data ready. Sign in with any of these (password for all):")
        )
        self.stdout.write(f"  password: {DEMO_PASSWORD}")
        for email, description in logins:
            self.stdout.write(f"  {email:<34} {description}")

    def _user(self, email: str, first_name: str, last_name: str) -> Any:
        user, _ = get_user_model().objects.update_or_create(
            username=email,
            defaults={"email": email, "first_name": first_name, "last_name": last_name, "is_active": True},
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
        return user

    def _seed(self) -> list[tuple[str, str]]:
        logins: list[tuple[str, str]] = []
        staff = {}
        for email, first, last, roles in STAFF:
            user = self._user(email, first, last)
            staff_user_set_roles(user=user, roles=roles)
            staff[email] = user
            logins.append((email, ", ".join(role.label for role in roles)))
        for spec in COMPANIES:
            company, _ = Company.objects.update_or_create(
                erp_customer_code=spec["code"],
                defaults={
                    "name": spec["name"],
                    "account_manager": staff[spec["manager"]],
                    "phone": spec["phone"],
                    "billing_email": f"ap@{spec['slug']}.example",
                    "status": Company.Status.ON_HOLD if spec.get("on_hold") else Company.Status.ACTIVE,
                    "hold_reason": spec.get("on_hold", ""),
                    "hold_source": Company.HoldSource.PORTAL if spec.get("on_hold") else "",
                },
            )
            for label, street, city, postal_code, region, country, is_default in spec["addresses"]:
                existing = ShipToAddress.objects.filter(company=company, label=label).first()
                ship_to_address_save(
                    company=company,
                    address=existing,
                    label=label,
                    street=street,
                    city=city,
                    postal_code=postal_code,
                    region=region,
                    country=country,
                    is_default=is_default,
                )
            for role in Role:
                email = f"{role.value}@{spec['slug']}.example"
                first, last = ROLE_NAMES[role]
                user = self._user(email, first, last)
                Membership.objects.update_or_create(
                    user=user,
                    defaults={"company": company, "role": role, "is_active": True, "deactivated_at": None},
                )
                logins.append((email, f"{role.label} at {company.name}"))
        return logins

    def _seed_pricing(self) -> None:
        """Tiers for every demo company; tier and contract prices once the ERP's products are here."""
        from apps.catalog.models import Product
        from apps.pricing import services as pricing
        from apps.pricing.models import ContractPrice, PriceTier, TierPrice

        tiers = {}
        for name, discount in TIERS:
            tiers[name], _ = PriceTier.objects.get_or_create(
                name=name, defaults={"default_discount_percent": Decimal(discount)}
            )
        admin = get_user_model().objects.get(username="admin@wholesale.example")
        for spec, tier_name in zip(COMPANIES, ["Gold", "Silver", "Bronze", "Silver"], strict=True):
            company = Company.objects.get(erp_customer_code=spec["code"])
            pricing.company_tier_assign(actor=admin, company=company, tier=tiers[tier_name])
        products = list(Product.objects.filter(is_active=True).order_by("sku")[:12])
        if not products:
            self.stdout.write(
                "No products yet (pull them from the ERP first): tier and contract prices skipped."
            )
            return
        today = timezone.localdate()
        gold = tiers["Gold"]
        for product in products[:8]:
            for min_quantity, factor in ((Decimal("10"), Decimal("0.80")), (Decimal("50"), Decimal("0.72"))):
                if not TierPrice.objects.filter(
                    tier=gold, product=product, min_quantity=min_quantity
                ).exists():
                    pricing.tier_price_save(
                        actor=admin,
                        tier=gold,
                        product=product,
                        min_quantity=min_quantity,
                        unit_price=(product.list_price * factor).quantize(Decimal("0.0001")),
                        valid_from=today,
                        valid_to=None,
                    )
        acme = Company.objects.get(erp_customer_code="CUST-001")
        from apps.approvals.models import ApprovalRule

        ApprovalRule.objects.get_or_create(
            company=acme,
            name="Orders of 500 or more",
            defaults={
                "condition": "total_at_least",
                "amount": Decimal("500"),
                "approver_role": Role.APPROVER,
            },
        )
        for product in products[8:12]:
            if not ContractPrice.objects.filter(company=acme, product=product).exists():
                pricing.contract_price_save(
                    actor=admin,
                    company=acme,
                    product=product,
                    min_quantity=Decimal("1"),
                    unit_price=(product.list_price * Decimal("0.70")).quantize(Decimal("0.0001")),
                    valid_from=today,
                    valid_to=None,
                )

    def _seed_credit_hold(self) -> None:
        """One order over Harbor Point's credit limit, waiting in finance's queue (once products and the
        ERP's credit limit are here)."""
        from apps.approvals.services import purchase_order_submit_and_route
        from apps.catalog.models import Product
        from apps.credit.models import CreditAccount
        from apps.purchase_orders import services as orders
        from apps.purchase_orders.lines import ParsedLine
        from apps.purchase_orders.models import PurchaseOrder

        company = Company.objects.get(erp_customer_code="CUST-003")
        account = CreditAccount.objects.filter(company=company, credit_limit__gt=0).first()
        product = Product.objects.filter(is_active=True, list_price__gt=0).order_by("-list_price").first()
        if account is None or account.credit_limit is None or product is None:
            self.stdout.write("No ERP credit limit or products yet: the demo credit hold is skipped.")
            return
        if PurchaseOrder.objects.filter(company=company, customer_po_number="HP-DEMO-HOLD").exists():
            return
        buyer = get_user_model().objects.get(username="buyer@harborpoint.example")
        quantity = (account.credit_limit * 2 / product.list_price).to_integral_value()  # twice the limit
        with transaction.atomic():
            draft = orders.purchase_order_draft_get(company=company, buyer=buyer)
            draft.customer_po_number = "HP-DEMO-HOLD"
            draft.ship_to = company.ship_to_addresses.filter(is_default=True).first()
            draft.save(update_fields=["customer_po_number", "ship_to", "updated_at"])
            orders.purchase_order_lines_add(
                purchase_order=draft, lines=[ParsedLine(1, product.sku, quantity, "demo: over the limit")]
            )
            order = purchase_order_submit_and_route(purchase_order=draft, actor=buyer)
        status = order.get_status_display().lower()
        self.stdout.write(f"Demo order {order.customer_po_number} of {company.name} is {status}.")
