"""A believable demo: companies with addresses and users of every role, and the wholesaler's staff.

Idempotent: run it twice and nothing is duplicated; demo passwords are reset to the demo password.

Once the ERP's products are here, Acme has orders in every state (a draft with lines, one waiting for
its approver, a cancelled one, and four approved ones that go to the ERP through the outbox) and Harbor
Point one on credit hold. With ``--erp-demo`` (what ``make run`` passes; it needs the local demo ERP and
its admin, ERP_ADMIN_USER / ERP_ADMIN_PASSWORD from ``erp.py up``) the command also pushes the outbox,
does in the ERP what its warehouse and accounting would (ships one sale, part of another, ships and
invoices a third) and pulls the states and invoices back: every order the portal shows accepted or later
is that sale in the ERP. Ironclad (CUST-009, imported from the ERP) gets demo users: its invoices, posted
by ``erp.py up``, are current and past due.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Company, Membership, Role, ShipToAddress, StaffRole
from apps.accounts.services import ship_to_address_save, staff_user_set_roles
from apps.approvals.models import ApprovalRule
from apps.catalog.models import Product
from apps.core.money import quantize_price
from apps.credit.erp import INVOICES
from apps.credit.models import CreditAccount
from apps.erp.connectors import connector_for
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.inbound import pull_stream
from apps.erp.services import connection_get_default, dispatch
from apps.order_lists.models import OrderList
from apps.order_lists.services import lines_from, order_list_create, order_list_lines_add
from apps.pricing import services as pricing
from apps.pricing.models import ContractPrice, PriceTier, TierPrice
from apps.purchase_orders import services as orders
from apps.purchase_orders.erp import ORDER_STATES
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route
from apps.quotes import services as quotes
from apps.quotes.models import Quote

DEMO_PASSWORD = "demo-Portal-2026"  # noqa: S105 - printed to the person running the demo on purpose

STAFF = [
    ("admin@wholesale.example", "Ada", "Admin", [StaffRole.ADMIN]),
    ("manager@wholesale.example", "Marco", "Manager", [StaffRole.ACCOUNT_MANAGER]),
    ("manager2@wholesale.example", "Mia", "Moreau", [StaffRole.ACCOUNT_MANAGER]),
    ("finance@wholesale.example", "Fiona", "Finance", [StaffRole.FINANCE]),
]

QUOTE_APPROVER = "manager2@wholesale.example"
DEMO_QUOTE_MARK = "[demo]"  # the demo quotes' messages begin with it: made once
DEMO_LIST = "Weekly restock"  # in the group QUOTE_DISCOUNT_APPROVERS_GROUP names

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
    {
        # An ERP customer: its demo invoices (one current, one 45 days past due) come from `erp.py up`.
        "name": "Ironclad Construction Group",
        "code": "CUST-009",
        "slug": "ironclad",
        "manager": "manager2@wholesale.example",
        "phone": "+1 713 555 0188",
        "addresses": [("Houston yard", "1001 Texas Ave", "Houston", "77002", "TX", "US", True)],
    },
]

TIERS = [
    ("Bronze", "5.00"),
    ("Silver", "10.00"),
    ("Gold", "15.00"),
    ("Platinum", "20.00"),
    ("Diamond", "25.00"),
]

# Acme's demo orders: PO number -> where the demo leaves it. The four ERP ones stay under Acme's approval
# threshold (500), so they are approved at once and pushed; the ERP's later states come back by the pull.
DEMO_ORDERS: dict[str, str] = {
    "ACME-DEMO-1001": "accepted",
    "ACME-DEMO-1002": "shipped",
    "ACME-DEMO-1003": "partially_shipped",
    "ACME-DEMO-1004": "invoiced",
    "ACME-DEMO-1005": "awaiting_approval",
    "ACME-DEMO-1006": "cancelled",
}

ROLE_NAMES = {
    Role.ADMIN: ("Alex", "Admin"),
    Role.BUYER: ("Bea", "Buyer"),
    Role.APPROVER: ("Arturo", "Approver"),
    Role.VIEWER: ("Vic", "Viewer"),
}


class Command(BaseCommand):
    help = "Create (or refresh) the demo companies, users and staff, and print the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--erp-demo",
            action="store_true",
            help="also push the demo orders to the local demo ERP, ship and invoice some there as its "
            "warehouse and accounting would, and pull their states back (needs ERP_ADMIN_PASSWORD)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            logins = self._seed()
            self._seed_pricing()
        self._seed_credit_hold()
        self._seed_orders()
        self._seed_quotes_and_lists()
        if options["erp_demo"]:
            self._seed_erp_activity()
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
        # Mia gives Marco's deep discounts their second approval (and he hers).
        approvers, _ = Group.objects.get_or_create(name=settings.QUOTE_DISCOUNT_APPROVERS_GROUP)
        staff[QUOTE_APPROVER].groups.add(approvers)
        logins = [
            (email, f"{description}, quote approver" if email == QUOTE_APPROVER else description)
            for email, description in logins
        ]
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

        tiers = {}
        for name, discount in TIERS:
            tiers[name], _ = PriceTier.objects.get_or_create(
                name=name, defaults={"default_discount_percent": Decimal(discount)}
            )
        admin = get_user_model().objects.get(username="admin@wholesale.example")
        for spec, tier_name in zip(COMPANIES, ["Gold", "Silver", "Bronze", "Silver", "Bronze"], strict=True):
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

    def _submit(
        self, *, company: Company, buyer: Any, po_number: str, lines: list[tuple[Any, Decimal]]
    ) -> Any:

        with transaction.atomic():
            draft = orders.purchase_order_draft_get(company=company, buyer=buyer)
            draft.customer_po_number = po_number
            draft.ship_to = company.ship_to_addresses.filter(is_default=True).first()
            draft.save(update_fields=["customer_po_number", "ship_to", "updated_at"])
            orders.purchase_order_lines_add(
                purchase_order=draft,
                lines=[ParsedLine(n, p.sku, q, "") for n, (p, q) in enumerate(lines, start=1)],
            )
            return purchase_order_submit_and_route(purchase_order=draft, actor=buyer)

    def _seed_orders(self) -> None:
        """Acme's orders in every state the portal decides (the ERP's states come with --erp-demo), and the
        buyer's draft with lines; each order once (by PO number)."""

        products = list(
            Product.objects.filter(is_active=True, list_price__gt=0).order_by("list_price", "sku")
        )
        if len(products) < 3:
            self.stdout.write("No products yet: the demo orders are skipped.")
            return
        acme = Company.objects.get(erp_customer_code="CUST-001")
        buyer = get_user_model().objects.get(username="buyer@acme.example")
        cheap = [product for product in products if product.list_price <= Decimal("20")][:4] or products[:4]
        dear = products[-1]
        existing = set(
            PurchaseOrder.objects.filter(company=acme, customer_po_number__in=DEMO_ORDERS).values_list(
                "customer_po_number", flat=True
            )
        )
        for number, (po_number, target) in enumerate(DEMO_ORDERS.items()):
            if po_number in existing:
                continue
            if target in ("awaiting_approval", "cancelled"):
                quantity = (Decimal("1000") / dear.list_price).to_integral_value() + 1  # past the 500 rule
                lines = [(dear, quantity)]
            else:  # two small lines, well under the approval threshold
                lines = [
                    (cheap[number % len(cheap)], Decimal("10")),
                    (cheap[(number + 1) % len(cheap)], Decimal("4")),
                ]
            order = self._submit(company=acme, buyer=buyer, po_number=po_number, lines=lines)
            if target == "cancelled":
                order = orders.purchase_order_cancel(
                    purchase_order=order, actor=buyer, note="Ordered twice by mistake."
                )
            self.stdout.write(
                f"Demo order {po_number} of {acme.name} is {order.get_status_display().lower()}."
            )
        draft = PurchaseOrder.objects.filter(
            company=acme, buyer=buyer, status=PurchaseOrder.Status.DRAFT
        ).first()
        if draft is None or not draft.lines.exists():
            with transaction.atomic():
                draft = orders.purchase_order_draft_get(company=acme, buyer=buyer)
                orders.purchase_order_lines_add(
                    purchase_order=draft,
                    lines=[
                        ParsedLine(1, cheap[0].sku, Decimal("25"), ""),
                        ParsedLine(2, products[-2].sku, Decimal("2"), ""),
                    ],
                )

    def _seed_quotes_and_lists(self) -> None:
        """Acme's quotes, one on each side's turn (an offer for the buyer, a request in the manager's
        queue, a deep discount waiting for Mia's second approval), and the buyer's list shared with the
        company; each once (by its message or name)."""
        products = list(
            Product.objects.filter(is_active=True, list_price__gt=0).order_by("list_price", "sku")
        )
        if len(products) < 3:
            return
        acme = Company.objects.get(erp_customer_code="CUST-001")
        buyer = get_user_model().objects.get(username="buyer@acme.example")
        manager = get_user_model().objects.get(username="manager@wholesale.example")
        if not Quote.objects.filter(company=acme, message__startswith=DEMO_QUOTE_MARK).exists():
            valid_until = timezone.localdate() + timedelta(days=14)
            for label, cut, stop in (
                ("spring restock", Decimal("0.95"), "offered"),
                ("site opening", Decimal("0.60"), "awaiting approval"),
                ("yearly contract", None, "submitted"),
            ):
                chosen = products[:2] if cut != Decimal("0.60") else products[1:3]
                quote = quotes.quote_request(
                    company=acme,
                    buyer=buyer,
                    message=f"{DEMO_QUOTE_MARK} {label}: what is your best price?",
                    lines=[quotes.RequestedLine(product, Decimal("50")) for product in chosen],
                )
                if cut is not None:
                    quotes.quote_review(quote=quote, actor=manager)
                    quotes.quote_offer(
                        quote=quote,
                        actor=manager,
                        lines=[
                            quotes.OfferedLine(
                                product, Decimal("50"), quantize_price(product.list_price * cut)
                            )
                            for product in chosen
                        ],
                        valid_until=valid_until,
                        note=f"For the {label}.",
                    )
                self.stdout.write(f"Demo quote {quote.number} of {acme.name}: {stop}.")
        membership = Membership.objects.get(user=buyer, company=acme)
        if not OrderList.objects.filter(company=acme, name=DEMO_LIST).exists():
            order_list = order_list_create(
                membership=membership, name=DEMO_LIST, visibility=OrderList.Visibility.COMPANY
            )
            order_list_lines_add(
                order_list=order_list,
                membership=membership,
                lines=lines_from((product.sku, Decimal("12"), "") for product in products[:3]),
            )
            self.stdout.write(f"Demo order list “{DEMO_LIST}” shared with {acme.name}.")

    def _seed_erp_activity(self) -> None:
        """Push the outbox to the demo ERP; there, ship ACME-DEMO-1002, part of 1003, ship and invoice 1004
        (as the ERP's admin, the way its warehouse and accounting would); pull states and invoices back."""

        password = os.environ.get("ERP_ADMIN_PASSWORD")
        if not password:
            self.stdout.write("ERP_ADMIN_PASSWORD is not set (erp.py up prints it): the ERP demo is skipped.")
            return
        connection = connection_get_default()
        report = dispatch(connection=connection)
        self.stdout.write(f"Pushed to the ERP: {report.succeeded} succeeded, {report.retrying} to retry.")
        admin = TrytonClient(
            settings.ERP_URL, settings.ERP_DATABASE, os.environ.get("ERP_ADMIN_USER", "admin"), password
        )
        try:
            acme = admin.model("party.party", "search", [["code", "=", "CUST-001"]], 0, 1, None)
            for po_number, target in DEMO_ORDERS.items():
                if target in ("shipped", "partially_shipped", "invoiced"):
                    self._erp_fulfil(admin, party=acme[0], reference=po_number, target=target)
        finally:
            admin.close()
        connector = connector_for(connection)
        try:
            for stream in (ORDER_STATES, INVOICES):
                pull_stream(connection=connection, stream=stream, connector=connector)
        finally:
            connector.close()

    def _erp_fulfil(self, admin: Any, *, party: int, reference: str, target: str) -> None:
        sales = admin.model(
            "sale.sale",
            "search_read",
            [["reference", "=", reference], ["party", "=", party]],
            0,
            1,
            None,
            ["state", "shipments", "invoices"],
        )
        if not sales or sales[0]["state"] not in ("confirmed", "processing"):
            self.stdout.write(f"{reference} is not a confirmed sale in the ERP yet: left as it is.")
            return
        sale = sales[0]
        waiting = [
            row["id"]
            for row in admin.model("stock.shipment.out", "read", sale["shipments"], ["state"])
            if row["state"] == "waiting"
        ]
        if waiting and len(sale["shipments"]) == 1:  # the first shipment only: idempotent
            if target == "partially_shipped":  # the warehouse has half of the first line today
                moves = admin.model("stock.shipment.out", "read", waiting[:1], ["inventory_moves"])[0]
                first = admin.model("stock.move", "read", moves["inventory_moves"][:1], ["quantity"])[0]
                admin.model("stock.move", "write", [first["id"]], {"quantity": first["quantity"] / 2})
            admin.model("stock.shipment.out", "assign_try", waiting)
            for button in ("pick", "pack", "do"):
                admin.model("stock.shipment.out", button, waiting)
        if target == "invoiced":
            drafts = [
                row["id"]
                for row in admin.model("account.invoice", "read", sale["invoices"], ["state"])
                if row["state"] == "draft"
            ]
            if drafts:
                admin.model("account.invoice", "post", drafts)
