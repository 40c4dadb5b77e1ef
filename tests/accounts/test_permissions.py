"""The permission matrix: every page and action, for every role, on its own company and on another.

Legend: ok = allowed (200, or a redirect that is not to the login page), L = redirect to the login
page, 403 = forbidden, 404 = not found (the object exists but belongs to a company the user cannot see).
"own" targets objects of the actor's company (for an account manager: an account assigned to them);
"other" targets objects of another company (for an account manager: an account of someone else).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Company, Invitation, Membership, Role, ShipToAddress, StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.approvals.models import ApprovalRequest, ApprovalRule
from apps.credit.models import Invoice
from apps.erp.models import Drift, SyncJob
from apps.erp.services import job_enqueue
from apps.order_lists.models import OrderList, OrderListLine
from apps.pricing.models import PriceUpload
from apps.purchase_orders.models import LineImport, PurchaseOrder, PurchaseOrderLine
from apps.quotes.services import RequestedLine, quote_request
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory, UserFactory
from tests.catalog.factories import ProductFactory
from tests.credit.factories import InvoiceFactory
from tests.pricing.factories import ContractPriceFactory, PriceTierFactory, TierPriceFactory

ACTORS = ["anon", "admin", "buyer", "approver", "viewer", "norole", "manager", "finance", "staff"]

ADDRESS_DATA = {
    "label": "New dock",
    "street": "1 Harbour Rd",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}

# endpoint, method, scope: expected outcome per actor, in the order of ACTORS.
# fmt: off
MATRIX: dict[tuple[str, str, str], str] = {
    #                                               anon admin buyer appr view norole manager finance staff
    ("home", "GET", "-"):                           "L    ok   ok    ok   ok   403    ok      ok      ok",
    ("buyer-home", "GET", "-"):                     "L    ok   ok    ok   ok   403    403     403     403",
    ("company-profile", "GET", "-"):                "L    ok   ok    ok   ok   403    403     403     403",
    ("company-profile-edit", "GET", "-"):           "L    ok   403   403  403  403    403     403     403",
    ("company-profile-edit", "POST", "-"):          "L    ok   403   403  403  403    403     403     403",
    ("company-users", "GET", "-"):                  "L    ok   403   403  403  403    403     403     403",
    ("company-user-invite", "POST", "-"):           "L    ok   403   403  403  403    403     403     403",
    ("company-user-role", "POST", "own"):           "L    ok   403   403  403  403    403     403     403",
    ("company-user-role", "POST", "other"):         "L    404  403   403  403  403    403     403     403",
    ("company-user-deactivate", "POST", "own"):     "L    ok   403   403  403  403    403     403     403",
    ("company-user-deactivate", "POST", "other"):   "L    404  403   403  403  403    403     403     403",
    ("company-user-reactivate", "POST", "own"):     "L    ok   403   403  403  403    403     403     403",
    ("company-user-reactivate", "POST", "other"):   "L    404  403   403  403  403    403     403     403",
    ("company-invitation-revoke", "POST", "own"):   "L    ok   403   403  403  403    403     403     403",
    ("company-invitation-revoke", "POST", "other"): "L    404  403   403  403  403    403     403     403",
    ("company-addresses", "GET", "-"):              "L    ok   ok    ok   ok   403    403     403     403",
    ("company-address-add", "GET", "-"):            "L    ok   403   403  403  403    403     403     403",
    ("company-address-add", "POST", "-"):           "L    ok   403   403  403  403    403     403     403",
    ("company-address-edit", "GET", "own"):         "L    ok   403   403  403  403    403     403     403",
    ("company-address-edit", "GET", "other"):       "L    404  403   403  403  403    403     403     403",
    ("company-address-edit", "POST", "own"):        "L    ok   403   403  403  403    403     403     403",
    ("company-address-edit", "POST", "other"):      "L    404  403   403  403  403    403     403     403",
    ("manager-home", "GET", "-"):                   "L    403  403   403  403  403    ok      403     ok",
    ("manager-company-create", "POST", "-"):        "L    403  403   403  403  403    ok      403     ok",
    ("manager-products", "GET", "-"):               "L    403  403   403  403  403    ok      403     ok",
    ("manager-product-rules", "POST", "-"):        "L    403  403   403  403  403    ok      403     ok",
    ("manager-product-detail", "GET", "-"):         "L    403  403   403  403  403    ok      403     ok",
    ("sync-monitor", "GET", "-"):                   "L    403  403   403  403  403    403     403     ok",
    ("sync-job-retry", "POST", "-"):                "L    403  403   403  403  403    403     403     ok",
    ("sync-drift", "GET", "-"):                     "L    403  403   403  403  403    403     403     ok",
    ("sync-drift-runs", "GET", "-"):                "L    403  403   403  403  403    403     403     ok",
    ("sync-drift-export", "GET", "-"):              "L    403  403   403  403  403    403     403     ok",
    ("sync-drift-run", "POST", "-"):                "L    403  403   403  403  403    403     403     ok",
    ("sync-drift-repull", "POST", "-"):             "L    403  403   403  403  403    403     403     ok",
    ("sync-drift-repush", "POST", "-"):             "L    403  403   403  403  403    403     403     ok",
    ("sync-drift-accept", "POST", "-"):             "L    403  403   403  403  403    403     403     ok",
    ("erp-stream-changes", "GET", "-"):             "L    204  204   204  204  204    204     204     204",
    ("manager-company-detail", "GET", "own"):       "L    403  403   403  403  403    ok      403     ok",
    ("manager-company-detail", "GET", "other"):     "L    403  403   403  403  403    404     403     ok",
    ("finance-home", "GET", "-"):                   "L    403  403   403  403  403    403     ok      ok",
    ("finance-company-hold", "POST", "own"):        "L    403  403   403  403  403    403     ok      ok",
    ("finance-company-hold", "POST", "other"):      "L    403  403   403  403  403    403     ok      ok",
    ("finance-company-release", "POST", "own"):     "L    403  403   403  403  403    403     ok      ok",
    ("staff-home", "GET", "-"):                     "L    403  403   403  403  403    403     403     ok",
    ("staff-health", "GET", "-"):                   "L    403  403   403  403  403    403     403     ok",
    ("buyer-catalog", "GET", "-"):                  "L    ok   ok    ok   ok   403    403     403     403",
    ("pricing-tiers", "GET", "-"):                  "L    403  403   403  403  403    ok      403     ok",
    ("pricing-tier", "GET", "-"):                   "L    403  403   403  403  403    ok      403     ok",
    ("pricing-tier-default", "POST", "-"):          "L    403  403   403  403  403    ok      403     ok",
    ("pricing-tier-price-add", "GET", "-"):         "L    403  403   403  403  403    ok      403     ok",
    ("pricing-tier-price-add", "POST", "-"):        "L    403  403   403  403  403    ok      403     ok",
    ("pricing-tier-price-edit", "GET", "-"):        "L    403  403   403  403  403    ok      403     ok",
    ("pricing-tier-price-edit", "POST", "-"):       "L    403  403   403  403  403    ok      403     ok",
    ("pricing-company", "GET", "own"):              "L    403  403   403  403  403    ok      403     ok",
    ("pricing-company", "GET", "other"):            "L    403  403   403  403  403    404     403     ok",
    ("pricing-company-tier", "POST", "own"):        "L    403  403   403  403  403    ok      403     ok",
    ("pricing-company-tier", "POST", "other"):      "L    403  403   403  403  403    404     403     ok",
    ("pricing-contract-price-add", "POST", "own"):  "L    403  403   403  403  403    ok      403     ok",
    ("pricing-contract-price-add", "POST", "other"): "L   403  403   403  403  403    404     403     ok",
    ("pricing-contract-price-edit", "GET", "own"):  "L    403  403   403  403  403    ok      403     ok",
    ("pricing-contract-price-edit", "POST", "own"): "L    403  403   403  403  403    ok      403     ok",
    ("pricing-contract-price-edit", "POST", "other"): "L  403  403   403  403  403    404     403     ok",
    ("pricing-upload-new", "GET", "-"):             "L    403  403   403  403  403    ok      403     ok",
    ("pricing-upload", "GET", "own"):               "L    403  403   403  403  403    ok      403     ok",
    ("pricing-upload", "GET", "other"):             "L    403  403   403  403  403    404     403     ok",
    ("pricing-upload-publish", "POST", "own"):      "L    403  403   403  403  403    ok      403     ok",
    ("pricing-audit", "GET", "-"):                  "L    403  403   403  403  403    ok      403     ok",
    ("po-list", "GET", "-"):                        "L    ok   ok    ok   ok   403    403     403     403",
    ("po-list-export", "GET", "-"):                 "L    ok   ok    ok   ok   403    403     403     403",
    ("po-builder", "GET", "-"):                     "L    ok   ok    403  403  403    403     403     403",
    ("po-builder-header", "POST", "-"):             "L    ok   ok    403  403  403    403     403     403",
    ("po-builder-quick", "POST", "-"):              "L    ok   ok    403  403  403    403     403     403",
    ("po-builder-csv", "POST", "-"):                "L    ok   ok    403  403  403    403     403     403",
    ("po-builder-add", "POST", "-"):                "L    ok   ok    403  403  403    403     403     403",
    ("po-builder-lines", "GET", "-"):               "L    ok   ok    403  403  403    403     403     403",
    ("po-builder-import", "GET", "other"):          "L    404  404   403  403  403    403     403     403",
    ("po-builder-line", "POST", "other"):           "L    404  404   403  403  403    403     403     403",
    ("po-builder-submit", "POST", "-"):             "L    ok   ok    403  403  403    403     403     403",
    ("po-detail", "GET", "own"):                    "L    ok   ok    ok   ok   403    403     403     403",
    ("po-detail", "GET", "other"):                  "L    404  404   404  404  403    403     403     403",
    ("po-cancel", "POST", "own"):                   "L    ok   ok    403  403  403    403     403     403",
    ("po-cancel", "POST", "other"):                 "L    404  404   403  403  403    403     403     403",
    ("po-reorder", "POST", "own"):                  "L    ok   ok    403  403  403    403     403     403",
    ("po-reorder", "POST", "other"):                "L    404  404   403  403  403    403     403     403",
    ("po-export", "GET", "own"):                    "L    ok   ok    ok   ok   403    403     403     403",
    ("po-export", "GET", "other"):                  "L    404  404   404  404  403    403     403     403",
    ("po-api-token", "GET", "-"):                   "L    ok   ok    403  403  403    403     403     403",
    ("po-api-token", "POST", "-"):                  "L    ok   ok    403  403  403    403     403     403",
    ("approval-rules", "GET", "-"):                 "L    ok   403   403  403  403    403     403     403",
    ("approval-rules", "POST", "-"):                "L    ok   403   403  403  403    403     403     403",
    ("approval-rule-toggle", "POST", "own"):        "L    ok   403   403  403  403    403     403     403",
    ("approval-rule-toggle", "POST", "other"):      "L    404  403   403  403  403    403     403     403",
    ("po-approvals", "GET", "-"):                   "L    ok   403   ok   403  403    403     403     403",
    ("po-approval-decision", "POST", "own"):        "L    ok   403   ok   403  403    403     403     403",
    ("po-approval-decision", "POST", "other"):      "L    404  403   404  403  403    403     403     403",
    ("quote-list", "GET", "-"):                     "L    ok   ok    ok   ok   403    ok      403     ok",
    ("quote-changes", "GET", "-"):                  "L    ok   ok    ok   ok   ok     ok      ok      ok",
    ("quote-request", "GET", "-"):                  "L    ok   ok    403  403  403    403     403     403",
    ("quote-request", "POST", "-"):                 "L    ok   ok    403  403  403    403     403     403",
    ("quote-from-draft", "POST", "-"):              "L    ok   ok    403  403  403    403     403     403",
    ("quote-detail", "GET", "own"):                 "L    ok   ok    ok   ok   403    ok      403     ok",
    ("quote-detail", "GET", "other"):               "L    404  404   404  404  403    404     403     ok",
    ("quote-edit", "POST", "own"):                  "L    ok   ok    403  403  403    403     403     403",
    ("quote-edit", "POST", "other"):                "L    404  404   403  403  403    403     403     403",
    ("quote-accept", "POST", "own"):                "L    ok   ok    403  403  403    403     403     403",
    ("quote-accept", "POST", "other"):              "L    404  404   403  403  403    403     403     403",
    ("quote-counter", "POST", "own"):               "L    ok   ok    403  403  403    403     403     403",
    ("quote-counter", "POST", "other"):             "L    404  404   403  403  403    403     403     403",
    ("quote-close", "POST", "own"):                 "L    ok   ok    403  403  403    403     403     403",
    ("quote-close", "POST", "other"):               "L    404  404   403  403  403    403     403     403",
    ("quote-review", "POST", "own"):                "L    403  403   403  403  403    ok      403     ok",
    ("quote-review", "POST", "other"):              "L    403  403   403  403  403    404     403     ok",
    ("quote-decline", "POST", "own"):               "L    403  403   403  403  403    ok      403     ok",
    ("quote-decline", "POST", "other"):             "L    403  403   403  403  403    404     403     ok",
    ("quote-offer", "POST", "own"):                 "L    403  403   403  403  403    ok      403     ok",
    ("quote-offer", "POST", "other"):               "L    403  403   403  403  403    404     403     ok",
    ("quote-queue", "GET", "-"):                    "L    403  403   403  403  403    ok      403     ok",
    ("quote-start", "GET", "-"):                    "L    403  403   403  403  403    ok      403     ok",
    ("quote-start", "POST", "-"):                   "L    403  403   403  403  403    ok      403     ok",
    ("quote-approvals", "GET", "-"):                "L    403  403   403  403  403    403     403     ok",
    ("quote-approval-decision", "POST", "own"):     "L    403  403   403  403  403    403     403     ok",
    ("quote-approval-decision", "POST", "other"):   "L    403  403   403  403  403    403     403     ok",
    # Acting for a customer (tests/accounts/test_acting.py has what each page does while acting).
    ("acting-start", "GET", "own"):                 "L    403  403   403  403  403    ok      403     ok",
    ("acting-start", "GET", "other"):               "L    403  403   403  403  403    404     403     ok",
    ("acting-start", "POST", "own"):                "L    403  403   403  403  403    ok      403     ok",
    ("acting-start", "POST", "other"):              "L    403  403   403  403  403    404     403     ok",
    ("acting-stop", "POST", "-"):                   "L    403  403   403  403  403    ok      403     ok",
    ("company-log", "GET", "-"):                    "L    ok   403   403  403  403    403     403     403",
    # Statements of account (issue 15): any member of the company; finance and admins any company,
    # account managers their own.
    ("buyer-statement", "GET", "-"):                "L    ok   ok    ok   ok   403    403     403     403",
    ("company-statement", "GET", "own"):            "L    403  403   403  403  403    ok      ok      ok",
    ("company-statement", "GET", "other"):          "L    403  403   403  403  403    404     ok      ok",
    ("buyer-invoice-document", "GET", "own"):       "L    ok   ok    ok   ok   403    403     403     403",
    ("buyer-invoice-document", "GET", "other"):     "L    404  404   404  404  403    403     403     403",
    ("staff-invoice-document", "GET", "own"):       "L    403  403   403  403  403    ok      ok      ok",
    ("staff-invoice-document", "GET", "other"):     "L    403  403   403  403  403    404     ok      ok",
    # Reorder from an invoice (issue 15): the invoice page, its reorder action.
    ("buyer-invoice", "GET", "own"):                "L    ok   ok    ok   ok   403    403     403     403",
    ("buyer-invoice", "GET", "other"):              "L    404  404   404  404  403    403     403     403",
    ("invoice-reorder", "POST", "own"):             "L    ok   ok    403  403  403    403     403     403",
    ("invoice-reorder", "POST", "other"):           "L    404  404   403  403  403    403     403     403",
    # order lists: "own" is a colleague's list shared with the company, colleagues may edit (owner-only
    # actions are 403 for them); tests/order_lists covers the owner's side and read-only lists
    ("order-lists", "GET", "-"):                    "L    ok   ok    ok   ok   403    403     403     403",
    ("order-list-create", "POST", "-"):             "L    ok   ok    403  403  403    403     403     403",
    ("order-list-add-product", "POST", "-"):        "L    ok   ok    403  403  403    403     403     403",
    ("order-list-add-draft", "POST", "-"):          "L    ok   ok    403  403  403    403     403     403",
    ("order-list-add-order", "POST", "own"):        "L    ok   ok    403  403  403    403     403     403",
    ("order-list-add-order", "POST", "other"):      "L    404  404   403  403  403    403     403     403",
    ("order-list-add-invoice", "POST", "own"):      "L    ok   ok    403  403  403    403     403     403",
    ("order-list-add-invoice", "POST", "other"):    "L    404  404   403  403  403    403     403     403",
    ("order-list-detail", "GET", "own"):            "L    ok   ok    ok   ok   403    403     403     403",
    ("order-list-detail", "GET", "other"):          "L    404  404   404  404  403    403     403     403",
    ("order-list-export", "GET", "own"):            "L    ok   ok    ok   ok   403    403     403     403",
    ("order-list-export", "GET", "other"):          "L    404  404   404  404  403    403     403     403",
    ("order-list-settings", "POST", "own"):         "L    403  403   403  403  403    403     403     403",
    ("order-list-settings", "POST", "other"):       "L    404  404   403  403  403    403     403     403",
    ("order-list-delete", "POST", "own"):           "L    403  403   403  403  403    403     403     403",
    ("order-list-delete", "POST", "other"):         "L    404  404   403  403  403    403     403     403",
    ("order-list-quick", "POST", "own"):            "L    ok   ok    403  403  403    403     403     403",
    ("order-list-quick", "POST", "other"):          "L    404  404   403  403  403    403     403     403",
    ("order-list-csv", "POST", "own"):              "L    ok   ok    403  403  403    403     403     403",
    ("order-list-csv", "POST", "other"):            "L    404  404   403  403  403    403     403     403",
    ("order-list-line", "POST", "own"):             "L    ok   ok    403  403  403    403     403     403",
    ("order-list-line", "POST", "other"):           "L    404  404   403  403  403    403     403     403",
    ("order-list-copy", "POST", "own"):             "L    ok   ok    403  403  403    403     403     403",
    ("order-list-copy", "POST", "other"):           "L    404  404   403  403  403    403     403     403",
    ("order-list-send", "POST", "own"):             "L    ok   ok    403  403  403    403     403     403",
    ("order-list-send", "POST", "other"):           "L    404  404   403  403  403    403     403     403",
}
# fmt: on


@dataclass
class World:
    actors: dict[str, Any]
    own: dict[str, Any]
    other: dict[str, Any]


def _targets(company: Company, uploader: Any) -> dict[str, Any]:
    target_member = MembershipFactory(company=company, role=Role.BUYER)
    address = ShipToAddressFactory(company=company, is_default=True)
    invitation = Invitation.objects.create(
        company=company,
        email=f"pending@{company.pk}.example",
        role=Role.BUYER,
        token=f"token-{company.pk}",
        expires_at="2099-01-01T00:00:00Z",
    )
    product = ProductFactory()
    tier = PriceTierFactory(name=f"Tier of {company.pk}")
    tier_price = TierPriceFactory(tier=tier, product=product)
    contract_price = ContractPriceFactory(company=company, product=product)
    upload = PriceUpload.objects.create(uploaded_by=uploader, filename="x.csv")
    someone = MembershipFactory(company=company, role=Role.BUYER).user
    order = PurchaseOrder.objects.create(
        company=company,
        buyer=someone,
        submitted_by=someone,
        customer_po_number=f"PO-{company.pk}",
        status=PurchaseOrder.Status.AWAITING_APPROVAL,
    )
    PurchaseOrderLine.objects.create(purchase_order=order, product=product, quantity=2)
    approval = ApprovalRequest.objects.create(
        purchase_order=order, step=1, reason="test", approver_role=Role.APPROVER, status="pending"
    )
    rule = ApprovalRule.objects.create(company=company, name="Big", condition="total_at_least", amount=1)
    draft = PurchaseOrder.objects.create(company=company, buyer=someone)
    draft_line = PurchaseOrderLine.objects.create(purchase_order=draft, product=product, quantity=1)
    line_import = LineImport.objects.create(purchase_order=draft, filename="x.csv")
    quote = quote_request(
        company=company, buyer=someone, message="Price?", lines=[RequestedLine(product, Decimal("5"))]
    )
    job = job_enqueue(kind="customer.push", target=company, idempotency_key=f"test:{company.pk}")
    SyncJob.objects.filter(pk=job.pk).update(status=SyncJob.Status.FAILED, last_error="refused")
    drift = Drift.objects.create(
        connection=job.connection, entity="test", kind=Drift.Kind.MISSING_IN_ERP, key=f"test:{company.pk}"
    )
    invoice = Invoice.objects.create(
        company=company,
        erp_id=f"inv-{company.pk}",
        number=f"INV-{company.pk}",
        total_amount=2,
        state="posted",
    )
    invoice.lines.create(position=1, sku=product.sku, quantity=2, unit_price=1, amount=2)
    order_list = OrderList.objects.create(
        company=company, owner=someone, name="Shared", visibility="company", colleagues_can_edit=True
    )
    order_list_line = OrderListLine.objects.create(order_list=order_list, product=product, default_quantity=2)
    return {
        "order_list": order_list,
        "order_list_line": order_list_line,
        "company": company,
        "invoice": invoice,
        "member": target_member,
        "address": address,
        "invitation": invitation,
        "product": product,
        "job": job,
        "drift": drift,
        "tier": tier,
        "tier_price": tier_price,
        "contract_price": contract_price,
        "upload": upload,
        "order": order,
        "approval": approval,
        "draft_line": draft_line,
        "rule": rule,
        "line_import": line_import,
        "quote": quote,
        # A draft: its document is refused with a message (a redirect) before the ERP is asked.
        "draft_invoice": InvoiceFactory(
            company=company, state=Invoice.State.DRAFT, invoice_date=None, due_date=None
        ),
    }


@pytest.fixture
def world(db: None) -> World:
    own_company = CompanyFactory()
    other_company = CompanyFactory()
    actors: dict[str, Any] = {"anon": None}
    for role in Role:
        actors[role.value] = MembershipFactory(company=own_company, role=role).user
    # The other company has an admin too, so no action here ever touches its last admin.
    MembershipFactory(company=other_company, role=Role.ADMIN)
    actors["norole"] = UserFactory()
    for name, staff_role in [
        ("manager", StaffRole.ACCOUNT_MANAGER),
        ("finance", StaffRole.FINANCE),
        ("staff", StaffRole.ADMIN),
    ]:
        user = UserFactory()
        staff_user_set_roles(user=user, roles=[staff_role])
        actors[name] = user
    ProductFactory(sku="SKU-PERM")  # the product the pricing forms post
    own_company.account_manager = actors["manager"]
    own_company.save()
    other_company.account_manager = UserFactory()
    other_company.save()
    return World(
        actors=actors,
        own=_targets(own_company, actors["manager"]),
        other=_targets(other_company, actors["staff"]),
    )


QUOTE_PAGES_WITHOUT_QUOTE = {
    "quote-list",
    "quote-changes",
    "quote-request",
    "quote-from-draft",
    "quote-queue",
    "quote-start",
    "quote-approvals",
}

ORDER_LIST_PAGES_WITHOUT_LIST = {
    "order-list-create",
    "order-list-add-product",
    "order-list-add-draft",
    "order-list-add-invoice",
}


ACTING_COMPANY_PAGES = {"acting-start"}


def _url(name: str, targets: dict[str, Any]) -> str:
    kwargs: dict[str, int] = {}
    if name.startswith("company-user-") and name != "company-user-invite":
        kwargs["membership_id"] = targets["member"].pk
    elif name == "company-invitation-revoke":
        kwargs["invitation_id"] = targets["invitation"].pk
    elif name == "company-address-edit":
        kwargs["address_id"] = targets["address"].pk
    elif name in ACTING_COMPANY_PAGES or name in (
        "manager-company-detail",
        "finance-company-hold",
        "finance-company-release",
    ):
        kwargs["company_id"] = targets["company"].pk
    elif name in ("manager-product-detail", "manager-product-rules"):
        kwargs["product_id"] = targets["product"].pk
    elif name == "sync-job-retry":
        kwargs["job_id"] = targets["job"].pk
    elif name in ("sync-drift-repull", "sync-drift-repush", "sync-drift-accept"):
        kwargs["drift_id"] = targets["drift"].pk
    elif name in ("pricing-tier", "pricing-tier-default", "pricing-tier-price-add"):
        kwargs["tier_id"] = targets["tier"].pk
    elif name == "pricing-tier-price-edit":
        kwargs["tier_id"], kwargs["row_id"] = targets["tier"].pk, targets["tier_price"].pk
    elif name in (
        "pricing-company",
        "pricing-company-tier",
        "pricing-contract-price-add",
        "company-statement",
    ):
        kwargs["company_id"] = targets["company"].pk
    elif name == "pricing-contract-price-edit":
        kwargs["company_id"], kwargs["row_id"] = targets["company"].pk, targets["contract_price"].pk
    elif name in ("pricing-upload", "pricing-upload-publish"):
        kwargs["upload_id"] = targets["upload"].pk
    elif name in ("po-detail", "po-cancel", "po-reorder", "po-export"):
        kwargs["order_id"] = targets["order"].pk
    elif name in ("buyer-invoice", "invoice-reorder"):
        kwargs["invoice_id"] = targets["invoice"].pk
    elif name == "po-builder-line":
        kwargs["line_id"] = targets["draft_line"].pk
    elif name == "po-builder-import":
        kwargs["job_id"] = targets["line_import"].pk
    elif name == "order-list-add-order":
        kwargs["order_id"] = targets["order"].pk
    elif name == "order-list-add-invoice":
        kwargs["invoice_id"] = targets["invoice"].pk
    elif name == "order-list-line":
        kwargs["list_id"], kwargs["line_id"] = targets["order_list"].pk, targets["order_list_line"].pk
    elif name.startswith("order-list-") and name not in ORDER_LIST_PAGES_WITHOUT_LIST:
        kwargs["list_id"] = targets["order_list"].pk
    elif name == "approval-rule-toggle":
        kwargs["rule_id"] = targets["rule"].pk
    elif name == "po-approval-decision":
        kwargs["request_id"] = targets["approval"].pk
    elif name in ("buyer-invoice-document", "staff-invoice-document"):
        kwargs["invoice_id"] = targets["draft_invoice"].pk
    elif name.startswith("quote-") and name not in QUOTE_PAGES_WITHOUT_QUOTE:
        kwargs["quote_id"] = targets["quote"].pk
    return reverse(name, kwargs=kwargs)


def _post_data(name: str) -> dict[str, str]:
    return {
        "company-profile-edit": {"phone": "+1 555 0100", "billing_email": "ap@example.com", "website": ""},
        "company-user-invite": {"email": "newcomer@example.com", "role": Role.BUYER},
        "company-user-role": {"role": Role.VIEWER},
        "company-address-add": ADDRESS_DATA,
        "company-address-edit": {**ADDRESS_DATA, "label": "Renamed dock"},
        "finance-company-hold": {"reason": "Invoices past due"},
        "sync-drift-run": {"entity": "test"},
        "sync-drift-accept": {"reason": "A known difference"},
        "manager-company-create": {"name": "Brand New Co", "country": "US"},
        "pricing-tier-default": {"default_discount_percent": "12.5"},
        "po-builder-quick": {"lines": "SKU-PERM 1"},
        "po-builder-add": {"sku": "SKU-PERM", "quantity": "1"},
        "po-builder-line": {"quantity": "3"},
        "po-approval-decision": {"decision": "approve"},
        "quote-request": {"lines": "SKU-PERM 2", "message": "Price?"},
        "order-list-create": {"name": "Perm list", "visibility": "private"},
        "order-list-add-product": {"new_list": "Perm list", "sku": "SKU-PERM", "quantity": "1"},
        "order-list-add-draft": {"new_list": "Perm list"},
        "order-list-add-order": {"new_list": "Perm list"},
        "order-list-add-invoice": {"new_list": "Perm list"},
        "order-list-copy": {"new_list": "Perm copy"},
        "order-list-settings": {"name": "Renamed", "visibility": "private"},
        "order-list-quick": {"lines": "SKU-PERM 1"},
        "order-list-line": {"quantity": "3"},
        "order-list-send": {"all": "1"},
        "quote-edit": {"lines": "SKU-PERM 3", "message": "More"},
        "quote-counter": {"message": "Lower?"},
        "quote-decline": {"message": "No stock"},
        "quote-approval-decision": {"decision": "approve"},
        "approval-rules": {
            "name": "Over 500",
            "step": "1",
            "condition": "total_at_least",
            "amount": "500",
            "approver_role": "approver",
        },
        "manager-product-rules": {"order_minimum": "6", "order_increment": "6", "order_maximum": ""},
        "pricing-tier-price-add": {
            "sku": "SKU-PERM",
            "min_quantity": "7",
            "unit_price": "3.2",
            "valid_from": "2027-01-01",
        },
        "pricing-tier-price-edit": {
            "sku": "SKU-PERM",
            "min_quantity": "1",
            "unit_price": "3.3",
            "valid_from": "2026-01-01",
        },
        "pricing-contract-price-add": {
            "sku": "SKU-PERM",
            "min_quantity": "9",
            "unit_price": "2.5",
            "valid_from": "2027-01-01",
        },
        "pricing-contract-price-edit": {
            "sku": "SKU-PERM",
            "min_quantity": "1",
            "unit_price": "2.6",
            "valid_from": "2026-01-01",
        },
    }.get(name, {})


CASES = [
    pytest.param(name, method, scope, actor, outcome, id=f"{method}-{name}-{scope}-{actor}")
    for (name, method, scope), row in MATRIX.items()
    for actor, outcome in zip(ACTORS, row.split(), strict=True)
]


@pytest.mark.parametrize(("name", "method", "scope", "actor", "expected"), CASES)
def test_permission_matrix(
    world: World, name: str, method: str, scope: str, actor: str, expected: str
) -> None:
    client = Client()
    user = world.actors[actor]
    if user is not None:
        client.force_login(user)
    targets = world.other if scope == "other" else world.own
    url = _url(name, targets)

    if name in ("po-builder-csv", "order-list-csv"):
        data: dict[str, Any] = {"file": SimpleUploadedFile("order.csv", b"SKU-PERM,1\n")}
    elif name == "po-builder-header":
        # A valid header (PO number and ship-to are required): the actor's own company's address.
        data = {"customer_po_number": "PO-PERM-1", "ship_to": world.own["address"].pk}
    elif name == "quote-accept":
        data = {"ship_to": world.own["address"].pk}
    elif name == "quote-start":
        data = {"company": world.own["company"].pk, "lines": "SKU-PERM 1"}
    elif name == "acting-start":
        data = {"buyer": targets["member"].pk, "reason": "Asked by phone"}
    else:
        data = _post_data(name)
    response = client.get(url) if method == "GET" else client.post(url, data)

    login_url = reverse("login")
    if expected == "L":
        assert response.status_code == 302
        assert response["Location"].startswith(login_url)
    elif expected == "ok":
        assert response.status_code in (200, 302), response.content[:500]
        if response.status_code == 302:
            assert not response["Location"].startswith(login_url)
    else:
        assert response.status_code == int(expected)


@pytest.mark.parametrize("name", ["company-user-role", "company-user-deactivate", "company-address-edit"])
def test_foreign_objects_are_untouched(world: World, name: str) -> None:
    """A company admin posting at another company's records changes nothing there."""
    client = Client()
    client.force_login(world.actors["admin"])
    member: Membership = world.other["member"]
    address: ShipToAddress = world.other["address"]

    response = client.post(_url(name, world.other), _post_data(name))

    assert response.status_code == 404
    member.refresh_from_db()
    member.user.refresh_from_db()
    address.refresh_from_db()
    assert member.role == Role.BUYER
    assert member.is_active
    assert member.user.is_active
    assert address.label != "Renamed dock"


INVOICE_PAGES = {"buyer-invoice", "invoice-reorder"}
FINANCE_COMPANY_PAGES = {"finance-home", "finance-company-hold", "finance-company-release"}
# Statements and invoice documents (issue 15), in the matrix with every role.
STATEMENT_PAGES = {"buyer-statement", "company-statement", "buyer-invoice-document", "staff-invoice-document"}


def test_every_url_is_in_the_matrix() -> None:
    """A new page or action must be added to the matrix before it can land."""
    from apps.accounts import urls as account_urls
    from apps.approvals import urls as approval_urls
    from apps.catalog import urls as catalog_urls
    from apps.core import urls as core_urls
    from apps.credit import urls as credit_urls
    from apps.erp import urls as erp_urls
    from apps.order_lists import urls as order_list_urls
    from apps.pricing import urls as pricing_urls
    from apps.purchase_orders import urls as po_urls
    from apps.quotes import urls as quote_urls

    public = {
        "login",
        "logout",
        "password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
        "invitation-accept",
        # An ERP calls it, with no session: each notification must carry its subscription's secret
        # (tests/erp/test_business_central_webhooks.py).
        "erp-webhook",
    }
    patterns = [
        *account_urls.urlpatterns,
        *core_urls.urlpatterns,
        *catalog_urls.urlpatterns,
        *erp_urls.urlpatterns,
        *pricing_urls.urlpatterns,
        *po_urls.urlpatterns,
        *approval_urls.urlpatterns,
        *quote_urls.urlpatterns,
        *order_list_urls.urlpatterns,
        # finance's company pages, moved from accounts to credit (credit's other pages are not in the matrix)
        *(p for p in credit_urls.urlpatterns if p.name in FINANCE_COMPANY_PAGES | STATEMENT_PAGES),
        # and the invoice page with its reorder (issue 15)
        *(p for p in credit_urls.urlpatterns if p.name in {*FINANCE_COMPANY_PAGES, *INVOICE_PAGES}),
    ]
    named = {p.name for p in patterns} - public
    covered = {name for name, _, _ in MATRIX}
    assert named == covered
