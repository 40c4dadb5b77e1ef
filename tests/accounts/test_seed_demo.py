from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.accounts.models import Company, Membership, Role, ShipToAddress, StaffRole
from apps.accounts.permissions import user_staff_roles
from apps.demo.management.commands.seed_demo import DEMO_PASSWORD


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
    assert CompanyPricing.objects.filter(tier__isnull=False).count() == 5
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


def _statuses() -> dict[str, str]:
    from apps.demo.management.commands.seed_demo import DEMO_ORDERS
    from apps.purchase_orders.models import PurchaseOrder

    return dict(
        PurchaseOrder.objects.filter(customer_po_number__in=DEMO_ORDERS).values_list(
            "customer_po_number", "status"
        )
    )


def test_seed_demo_without_the_erp_shows_the_states_the_portal_decides(db: None) -> None:
    from apps.approvals.models import ApprovalRequest
    from apps.purchase_orders.models import PurchaseOrder
    from tests.catalog.factories import ProductFactory

    ProductFactory.create_batch(6)
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=StringIO())

    assert _statuses() == {
        "ACME-DEMO-1001": "approved",  # in the outbox, for the ERP
        "ACME-DEMO-1002": "approved",
        "ACME-DEMO-1003": "approved",
        "ACME-DEMO-1004": "approved",
        "ACME-DEMO-1005": "awaiting_approval",
        "ACME-DEMO-1006": "cancelled",
    }
    assert PurchaseOrder.objects.filter(customer_po_number__startswith="ACME-DEMO-").count() == 6
    pending = ApprovalRequest.objects.filter(purchase_order__customer_po_number="ACME-DEMO-1005")
    assert pending.filter(status="pending").count() == 1
    assert not ApprovalRequest.objects.filter(
        purchase_order__customer_po_number="ACME-DEMO-1006", status="pending"
    )
    draft = PurchaseOrder.objects.get(buyer__username="buyer@acme.example", status="draft")
    assert draft.lines.count() == 2
    assert "Demo order ACME-DEMO-1006 of Acme Hardware Co. is cancelled." in out.getvalue()


@pytest.fixture
def demo_erp(db: None, erp_template, tmp_path, settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The demo ERP `make run` starts (erp.py up: the template plus the demo invoices) and its admin."""
    from apps.erp.services import connection_get_default
    from tools.tryton import erp

    server = erp.start(tmp_path / "demo-erp", demo=True)
    settings.ERP_URL, settings.ERP_DATABASE, settings.ERP_USERNAME = server.url, server.database, server.user
    monkeypatch.setenv("ERP_PASSWORD", server.password)
    monkeypatch.setenv("ERP_ADMIN_USER", erp.ERP_ADMIN_USER)
    monkeypatch.setenv("ERP_ADMIN_PASSWORD", erp.ERP_ADMIN_PASSWORD)
    try:
        yield server, connection_get_default()
    finally:
        server.stop()


def test_seed_demo_with_the_erp_shows_a_living_account_the_erp_agrees_with(demo_erp) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from apps.approvals.models import ApprovalRequest
    from apps.credit.models import Invoice
    from apps.erp.connectors.tryton.client import TrytonClient
    from apps.erp.inbound import pull_all
    from apps.purchase_orders.models import PurchaseOrder
    from tools.tryton import erp

    server, connection = demo_erp
    pull_all(connection=connection)  # what `make run` does before seed_demo
    call_command("seed_demo", "--erp-demo", stdout=StringIO())
    call_command("seed_demo", "--erp-demo", stdout=StringIO())  # idempotent: nothing shipped or sent twice

    assert _statuses() == {
        "ACME-DEMO-1001": "accepted",
        "ACME-DEMO-1002": "shipped",
        "ACME-DEMO-1003": "partially_shipped",
        "ACME-DEMO-1004": "invoiced",
        "ACME-DEMO-1005": "awaiting_approval",
        "ACME-DEMO-1006": "cancelled",
    }
    assert ApprovalRequest.objects.filter(
        purchase_order__customer_po_number="ACME-DEMO-1005", status="pending"
    )
    assert PurchaseOrder.objects.get(customer_po_number="HP-DEMO-HOLD").status == "credit_hold"
    # A quote on each side's turn and a list shared with the company, made once over the two runs.
    from apps.order_lists.models import OrderList
    from apps.quotes.models import Quote

    assert sorted(
        Quote.objects.filter(company__erp_customer_code="CUST-001").values_list("status", flat=True)
    ) == [
        "awaiting_approval",
        "offered",
        "submitted",
    ]
    [shared] = OrderList.objects.filter(company__erp_customer_code="CUST-001")
    assert (shared.name, shared.visibility, shared.lines.count()) == ("Weekly restock", "company", 3)
    # The ERP holds exactly one sale per order the portal sent, and none for the others.
    admin = TrytonClient(server.url, server.database, erp.ERP_ADMIN_USER, erp.ERP_ADMIN_PASSWORD)
    try:
        sales = admin.model(
            "sale.sale",
            "search_read",
            [["reference", "like", "ACME-DEMO-%"]],
            0,
            None,
            None,
            ["reference", "state", "shipment_state", "invoice_state", "party.code"],
        )
    finally:
        admin.close()
    assert sorted((s["reference"], s["shipment_state"], s["invoice_state"]) for s in sales) == [
        ("ACME-DEMO-1001", "waiting", "pending"),
        ("ACME-DEMO-1002", "sent", "pending"),
        ("ACME-DEMO-1003", "partially shipped", "pending"),
        ("ACME-DEMO-1004", "sent", "awaiting payment"),
    ]
    today = timezone.localdate()
    acme_invoice = Invoice.objects.get(company__erp_customer_code="CUST-001", state=Invoice.State.POSTED)
    assert list(acme_invoice.purchase_orders.values_list("customer_po_number", flat=True)) == [
        "ACME-DEMO-1004"
    ]
    assert acme_invoice.due_date is not None
    assert acme_invoice.due_date >= today  # current
    ironclad = Invoice.objects.filter(company__erp_customer_code="CUST-009", state=Invoice.State.POSTED)
    ironclad = ironclad.order_by("due_date")
    assert [invoice.due_date for invoice in ironclad] == [
        today - timedelta(days=45),
        today + timedelta(days=18),
    ]
    assert Company.objects.get(erp_customer_code="CUST-009").memberships.count() == len(Role)
