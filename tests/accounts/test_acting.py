"""Acting for a customer: an account manager (or a portal admin) builds and submits a buyer's draft under a
server-side session with a reason and a time limit; both names are recorded; approvals, credit and the
company's own administration stay refused; the company's admins read the sessions in their log."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.exceptions import ActingError
from apps.accounts.middleware import ACTING_SESSION_KEY
from apps.accounts.models import ActingAction, ActingSession, Company, Role, StaffRole
from apps.accounts.services import acting_session_start
from apps.approvals.models import ApprovalRequest, ApprovalRule
from apps.credit.models import CreditAccount, CreditHold
from apps.purchase_orders import services as orders
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderStatusChange
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory, UserFactory
from tests.catalog.factories import ProductFactory

Status = PurchaseOrder.Status
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def shop(db: None, staff_factory: Any) -> dict[str, Any]:
    manager = staff_factory(StaffRole.ACCOUNT_MANAGER, email="manager@wholesaler.example")
    company = CompanyFactory(name="Acme", account_manager=manager)
    ProductFactory(sku="BOLT", name="Hex bolt", list_price=D("0.5000"))
    ProductFactory(sku="NUT", name="Hex nut", list_price=D("0.2500"))
    return {
        "manager": manager,
        "company": company,
        "buyer": MembershipFactory(
            company=company, role=Role.BUYER, user=UserFactory(email="buyer@acme.example")
        ),
        "admin": MembershipFactory(
            company=company, role=Role.ADMIN, user=UserFactory(email="admin@acme.example")
        ).user,
        "approver": MembershipFactory(
            company=company, role=Role.APPROVER, user=UserFactory(email="approver@acme.example")
        ).user,
        "ship_to": ShipToAddressFactory(company=company, is_default=True),
    }


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _start(client: Client, company: Company, membership_pk: int, reason: str = "Phoned in an order") -> Any:
    return client.post(f"/manager/companies/{company.pk}/act/", {"buyer": membership_pk, "reason": reason})


def _acting_client(shop: dict[str, Any], user: Any = None) -> Client:
    client = _client(user or shop["manager"])
    response = _start(client, shop["company"], shop["buyer"].pk)
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == "/orders/draft/"
    return client


# --- Building and submitting for the buyer ---------------------------------------------------------------


def test_manager_builds_and_submits_the_buyers_draft_and_the_history_names_both(shop: dict[str, Any]) -> None:
    ApprovalRule.objects.create(
        company=shop["company"],
        name="Any",
        condition="total_at_least",
        amount=D("1"),
        approver_role=Role.APPROVER,
    )
    buyer = shop["buyer"].user
    existing = orders.purchase_order_draft_get(company=shop["company"], buyer=buyer)
    orders.purchase_order_lines_add(purchase_order=existing, lines=[ParsedLine(1, "NUT", D("4"), "")])
    client = _acting_client(shop)

    builder = client.get("/orders/draft/").content.decode()
    client.post("/orders/draft/quick/", {"lines": "BOLT 10"})
    client.post("/orders/draft/header/", {"customer_po_number": "PO-ACT-1", "ship_to": shop["ship_to"].pk})
    response = client.post("/orders/draft/submit/", follow=True)

    assert 'data-sku="NUT"' in builder  # the buyer's own draft, not a new one of the manager's
    order = PurchaseOrder.objects.get(customer_po_number="PO-ACT-1")
    assert order.pk == existing.pk
    assert order.buyer == buyer
    assert order.submitted_by == buyer  # the approval rules see the buyer as the submitter
    assert order.status == Status.AWAITING_APPROVAL  # the company's rule still applies
    assert order.total_amount == D("6.00")
    submitted = PurchaseOrderStatusChange.objects.get(purchase_order=order, to_status=Status.SUBMITTED)
    assert (submitted.actor, submitted.on_behalf_of) == (shop["manager"], buyer)
    html = response.content.decode()
    assert "by manager manager@wholesaler.example for buyer buyer@acme.example" in html
    session = ActingSession.objects.get()
    actions = list(session.actions.values_list("action", "purchase_order_id", "order_label"))
    assert actions == [
        ("po-builder-quick", order.pk, f"Draft {order.pk}"),
        ("po-builder-header", order.pk, "PO-ACT-1"),
        ("po-builder-submit", order.pk, "PO-ACT-1"),
    ]
    # The company's approver decides as usual; the manager's submission does not bypass them.
    step = ApprovalRequest.objects.get(purchase_order=order)
    _client(shop["approver"]).post(f"/approvals/{step.pk}/", {"decision": "approve", "comment": "ok"})
    order.refresh_from_db()
    assert order.status == Status.APPROVED


def test_a_buyers_own_submission_has_no_on_behalf_of(shop: dict[str, Any]) -> None:
    client = _client(shop["buyer"].user)
    client.post("/orders/draft/quick/", {"lines": "BOLT 10"})
    client.post("/orders/draft/header/", {"customer_po_number": "PO-OWN", "ship_to": shop["ship_to"].pk})
    response = client.post("/orders/draft/submit/", follow=True)

    change = PurchaseOrderStatusChange.objects.get(to_status=Status.SUBMITTED)
    assert (change.actor, change.on_behalf_of) == (shop["buyer"].user, None)
    assert "by buyer@acme.example" in response.content.decode()
    assert "for buyer" not in response.content.decode()


def test_a_portal_admin_may_act_for_any_company(shop: dict[str, Any], staff_factory: Any) -> None:
    shop["company"].account_manager = None
    shop["company"].save()
    admin = staff_factory(StaffRole.ADMIN)

    client = _acting_client(shop, admin)

    assert ActingSession.objects.get().manager == admin
    assert "Stop acting" in client.get("/orders/draft/").content.decode()


# --- Starting: reason, company, buyer ----------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_starting_without_a_reason_is_a_form_error(shop: dict[str, Any], reason: str) -> None:
    client = _client(shop["manager"])

    response = _start(client, shop["company"], shop["buyer"].pk, reason=reason)

    assert response.status_code == 400
    assert "Say why you act for this buyer" in response.content.decode()
    assert not ActingSession.objects.exists()
    assert ACTING_SESSION_KEY not in client.session


def test_another_managers_company_and_an_unassigned_one_are_not_found(
    shop: dict[str, Any], staff_factory: Any
) -> None:
    colleague = staff_factory(StaffRole.ACCOUNT_MANAGER)
    theirs = CompanyFactory(account_manager=colleague)
    unassigned = CompanyFactory()
    client = _client(shop["manager"])

    for company in (theirs, unassigned):
        member = MembershipFactory(company=company, role=Role.BUYER)
        assert client.get(f"/manager/companies/{company.pk}/act/").status_code == 404
        assert _start(client, company, member.pk).status_code == 404
    assert not ActingSession.objects.exists()


def test_finance_cannot_act(shop: dict[str, Any], staff_factory: Any) -> None:
    finance = staff_factory(StaffRole.FINANCE)

    assert _start(_client(finance), shop["company"], shop["buyer"].pk).status_code == 403
    assert not ActingSession.objects.exists()


def test_an_inactive_buyer_a_viewer_or_a_foreign_member_cannot_be_acted_for(shop: dict[str, Any]) -> None:
    inactive = MembershipFactory(company=shop["company"], role=Role.BUYER, is_active=False)
    viewer = MembershipFactory(company=shop["company"], role=Role.VIEWER)
    foreign = MembershipFactory(company=CompanyFactory(), role=Role.BUYER)
    client = _client(shop["manager"])

    form = client.get(f"/manager/companies/{shop['company'].pk}/act/").content.decode()
    for member in (inactive, viewer, foreign):
        response = _start(client, shop["company"], member.pk)
        assert response.status_code == 400
        assert "Choose an active buyer of this company." in response.content.decode()
        assert member.user.email not in form
    assert shop["buyer"].user.email in form
    assert not ActingSession.objects.exists()


def test_the_service_itself_refuses_what_the_pages_refuse(shop: dict[str, Any], staff_factory: Any) -> None:
    colleague = staff_factory(StaffRole.ACCOUNT_MANAGER)
    viewer = MembershipFactory(company=shop["company"], role=Role.VIEWER).user

    with pytest.raises(ActingError, match="not one of your accounts"):
        acting_session_start(manager=colleague, company=shop["company"], buyer=shop["buyer"].user, reason="x")
    with pytest.raises(ActingError, match="not an active buyer"):
        acting_session_start(manager=shop["manager"], company=shop["company"], buyer=viewer, reason="x")
    with pytest.raises(ActingError, match="Say why"):
        acting_session_start(
            manager=shop["manager"], company=shop["company"], buyer=shop["buyer"].user, reason=" "
        )
    assert not ActingSession.objects.exists()


def test_a_new_session_replaces_one_left_open_elsewhere(shop: dict[str, Any]) -> None:
    first = acting_session_start(
        manager=shop["manager"], company=shop["company"], buyer=shop["buyer"].user, reason="Morning call"
    )

    second = acting_session_start(
        manager=shop["manager"], company=shop["company"], buyer=shop["admin"], reason="Afternoon call"
    )

    first.refresh_from_db()
    assert first.ended_reason == ActingSession.EndReason.REPLACED
    assert first.ended_at is not None
    assert second.is_open()


def test_stopping_then_starting_again_for_another_member(shop: dict[str, Any]) -> None:
    admin_member = shop["admin"].membership
    client = _acting_client(shop)

    # While acting, the staff pages (starting another session among them) are refused: stop first.
    assert _start(client, shop["company"], admin_member.pk).status_code == 403
    client.post("/manager/acting/stop/")
    _start(client, shop["company"], admin_member.pk)

    first, second = ActingSession.objects.order_by("pk")
    assert first.ended_reason == ActingSession.EndReason.STOPPED
    assert second.ended_at is None
    assert second.buyer == shop["admin"]


# --- Limits: time, buyer, refused pages ------------------------------------------------------------------


def test_an_expired_session_ends_itself_and_the_next_action_does_nothing(shop: dict[str, Any]) -> None:
    client = _acting_client(shop)
    session = ActingSession.objects.get()
    ActingSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.post("/orders/draft/quick/", {"lines": "BOLT 10"})

    assert response.status_code == 302
    assert response["Location"] == f"/manager/companies/{shop['company'].pk}/"
    assert not PurchaseOrder.objects.filter(lines__product__sku="BOLT").exists()
    session.refresh_from_db()
    assert session.ended_reason == ActingSession.EndReason.EXPIRED
    assert session.ended_at == session.expires_at
    assert not session.actions.exists()
    page = client.get(response["Location"]).content.decode()
    assert "ran out at" in page
    assert "nothing was done" in page
    assert "Stop acting" not in page
    assert client.get("/orders/draft/").status_code == 403  # the manager is no buyer of their own


def test_an_expired_session_under_htmx_redirects_the_whole_page(shop: dict[str, Any]) -> None:
    client = _acting_client(shop)
    ActingSession.objects.update(expires_at=timezone.now() - timedelta(minutes=5))

    response = client.post("/orders/draft/add/", {"sku": "BOLT", "quantity": "1"}, **HTMX)

    assert response["HX-Redirect"] == f"/manager/companies/{shop['company'].pk}/"
    assert not PurchaseOrder.objects.filter(lines__isnull=False).exists()


def test_the_time_limit_comes_from_the_setting(shop: dict[str, Any], settings: Any) -> None:
    settings.ACTING_SESSION_MINUTES = 5
    before = timezone.now()

    _acting_client(shop)

    session = ActingSession.objects.get()
    assert before + timedelta(minutes=5) <= session.expires_at <= timezone.now() + timedelta(minutes=5)


def test_a_buyer_deactivated_mid_session_ends_it(shop: dict[str, Any]) -> None:
    client = _acting_client(shop)
    membership = shop["buyer"]
    membership.is_active = False
    membership.save()

    response = client.post("/orders/draft/quick/", {"lines": "BOLT 10"})

    assert response.status_code == 302
    assert ActingSession.objects.get().ended_reason == ActingSession.EndReason.BUYER_INACTIVE
    assert not PurchaseOrder.objects.filter(lines__isnull=False).exists()


def test_a_company_reassigned_mid_session_ends_it(shop: dict[str, Any], staff_factory: Any) -> None:
    client = _acting_client(shop)
    shop["company"].account_manager = staff_factory(StaffRole.ACCOUNT_MANAGER)
    shop["company"].save()

    response = client.post("/orders/draft/quick/", {"lines": "BOLT 10"})

    assert response.status_code == 302
    assert response["Location"] == "/manager/"
    assert ActingSession.objects.get().ended_reason == ActingSession.EndReason.UNASSIGNED
    assert not PurchaseOrder.objects.filter(lines__isnull=False).exists()
    assert "no longer one of your accounts" in client.get("/manager/").content.decode()


def test_acting_cannot_approve_on_the_companys_behalf(shop: dict[str, Any]) -> None:
    """Acting for the company's admin (who may approve) still gives no approval."""
    ApprovalRule.objects.create(
        company=shop["company"],
        name="Any",
        condition="total_at_least",
        amount=D("1"),
        approver_role=Role.ADMIN,
    )
    other_buyer = shop["buyer"].user
    order = orders.purchase_order_draft_get(company=shop["company"], buyer=other_buyer)
    order.customer_po_number, order.ship_to = "PO-WAIT", shop["ship_to"]
    order.save()
    orders.purchase_order_lines_add(purchase_order=order, lines=[ParsedLine(1, "BOLT", D("4"), "")])
    orders.purchase_order_submit_and_route(purchase_order=order, actor=other_buyer)
    step = ApprovalRequest.objects.get(purchase_order=order)
    client = _client(shop["manager"])
    _start(client, shop["company"], shop["admin"].membership.pk)

    queue = client.get("/approvals/")
    decision = client.post(f"/approvals/{step.pk}/", {"decision": "approve", "comment": "ok"})

    assert queue.status_code == 403
    assert decision.status_code == 403
    assert "Not while acting for admin@acme.example" in decision.content.decode()
    step.refresh_from_db()
    order.refresh_from_db()
    assert step.status == ApprovalRequest.Status.PENDING
    assert order.status == Status.AWAITING_APPROVAL
    assert ActingAction.objects.get().status_code == 403  # the refused attempt is in the log too


def test_acting_cannot_release_credit(shop: dict[str, Any], staff_factory: Any) -> None:
    """A portal admin (who holds finance's powers) releases nothing while acting."""
    CreditAccount.objects.create(company=shop["company"], credit_limit=D("1.00"))
    buyer = shop["buyer"].user
    order = orders.purchase_order_draft_get(company=shop["company"], buyer=buyer)
    order.customer_po_number, order.ship_to = "PO-HELD", shop["ship_to"]
    order.save()
    orders.purchase_order_lines_add(purchase_order=order, lines=[ParsedLine(1, "BOLT", D("10"), "")])
    orders.purchase_order_submit_and_route(purchase_order=order, actor=buyer)
    hold = CreditHold.objects.get(purchase_order=order)
    shop["company"].status, shop["company"].hold_reason = Company.Status.ON_HOLD, "Late"
    shop["company"].save()
    client = _acting_client(shop, staff_factory(StaffRole.ADMIN))

    released = client.post(f"/finance/holds/{hold.pk}/decide/", {"decision": "release", "reason": "x"})
    lifted = client.post(f"/finance/companies/{shop['company'].pk}/release/")

    assert released.status_code == 403
    assert lifted.status_code == 403
    assert "Not while acting for a customer" in released.content.decode()
    hold.refresh_from_db()
    order.refresh_from_db()
    shop["company"].refresh_from_db()
    assert hold.status == CreditHold.Status.OPEN
    assert order.status == Status.CREDIT_HOLD
    assert shop["company"].is_on_hold


def test_acting_never_reaches_another_companys_orders(shop: dict[str, Any]) -> None:
    foreign = CompanyFactory()
    stranger = MembershipFactory(company=foreign, role=Role.BUYER).user
    order = PurchaseOrder.objects.create(company=foreign, buyer=stranger, customer_po_number="PO-X")
    client = _acting_client(shop)

    assert client.get(f"/orders/{order.pk}/").status_code == 404
    assert "PO-X" not in client.get("/orders/").content.decode()


# Pages while acting: those that build, fix and submit the draft, and read the company's orders, work;
# every other company page and every staff page but the way back are refused with a reason.
WHILE_ACTING: list[tuple[str, str, int]] = [
    ("GET", "/catalog/", 200),
    ("GET", "/orders/draft/", 200),
    ("GET", "/orders/draft/lines/", 200),
    ("GET", "/orders/", 200),
    ("GET", "/orders/export.csv", 200),
    ("GET", "/manager/", 200),
    ("GET", "/buyer/", 403),
    ("GET", "/company/", 403),
    ("GET", "/company/users/", 403),
    ("GET", "/company/addresses/", 403),
    ("GET", "/company/log/", 403),
    ("GET", "/company/approval-rules/", 403),
    ("GET", "/approvals/", 403),
    ("GET", "/invoices/", 403),
    ("GET", "/orders/api-token/", 403),
    ("POST", "/orders/api-token/", 403),
    ("GET", "/quotes/", 403),
    ("GET", "/quotes/new/", 403),
    ("GET", "/pricing/", 403),
    ("GET", "/manager/products/", 403),
    ("GET", "/finance/holds/", 403),
]


@pytest.mark.parametrize(("method", "path", "expected"), WHILE_ACTING)
def test_pages_while_acting(shop: dict[str, Any], method: str, path: str, expected: int) -> None:
    client = _acting_client(shop)
    client.get("/orders/draft/")  # the buyer's draft exists

    response = client.get(path) if method == "GET" else client.post(path)

    assert response.status_code == expected, response.content[:300]
    if expected == 403:
        assert "Not while acting" in response.content.decode()


def test_the_banner_is_on_every_page_while_acting(shop: dict[str, Any]) -> None:
    client = _acting_client(shop)
    order = PurchaseOrder.objects.create(
        company=shop["company"], buyer=shop["buyer"].user, customer_po_number="PO-B", status=Status.APPROVED
    )

    for path in (
        "/catalog/",
        "/orders/draft/",
        "/orders/",
        f"/orders/{order.pk}/",
        "/manager/",
        f"/manager/companies/{shop['company'].pk}/",
        "/company/users/",  # refused, yet the banner says why
    ):
        html = client.get(path).content.decode()
        assert "Acting for" in html, path
        assert "buyer@acme.example" in html, path
        assert "Phoned in an order" in html, path
        assert 'data-field="time-left">29' in html or 'data-field="time-left">30' in html, path
        assert 'action="/manager/acting/stop/"' in html, path


def test_stopping_ends_the_session_and_the_banner(shop: dict[str, Any]) -> None:
    client = _acting_client(shop)

    response = client.post("/manager/acting/stop/", follow=True)

    session = ActingSession.objects.get()
    assert session.ended_reason == ActingSession.EndReason.STOPPED
    html = response.content.decode()
    assert "You stopped acting for buyer@acme.example." in html
    assert "Stop acting" not in html
    assert client.get("/orders/draft/").status_code == 403


def test_the_manager_stays_the_signed_in_user(shop: dict[str, Any]) -> None:
    client = _acting_client(shop)

    assert int(client.session["_auth_user_id"]) == shop["manager"].pk
    assert 'data-section="users"' not in client.get("/orders/").content.decode()


# --- The company's log -----------------------------------------------------------------------------------


def test_the_company_admin_sees_the_sessions_in_the_log(
    shop: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client = _acting_client(shop)
    client.post("/orders/draft/quick/", {"lines": "BOLT 10"})
    client.post("/manager/acting/stop/")
    for n in range(3):
        _start(client, shop["company"], shop["buyer"].pk, reason=f"Call {n}")
        client.post("/orders/draft/quick/", {"lines": "NUT 1"})
        client.post("/manager/acting/stop/")
    other = CompanyFactory()
    ActingSession.objects.create(
        manager=shop["manager"],
        company=other,
        buyer=MembershipFactory(company=other).user,
        reason="Someone else's",
        started_at=timezone.now(),
        expires_at=timezone.now(),
    )
    draft = PurchaseOrder.objects.get(buyer=shop["buyer"].user)
    admin = _client(shop["admin"])

    with django_assert_max_num_queries(12):
        html = admin.get("/company/log/").content.decode()

    assert html.count("data-acting-session=") == 4
    assert "manager@wholesaler.example" in html
    assert "Phoned in an order" in html
    assert "Call 2" in html
    assert "Someone else" not in html
    assert f'href="/orders/{draft.pk}/"' in html
    assert "Stopped by the manager" in html
    assert "Added lines (quick order)" in html
    assert _client(shop["buyer"].user).get("/company/log/").status_code == 403
