"""Credit pages: the buyer's invoices and meter, finance's queue, decisions, and who may see what."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import Company, Role, StaffRole
from apps.credit.models import CreditAccount, CreditHold, Invoice
from apps.erp.models import SyncJob
from apps.purchase_orders import services as orders
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory, UserFactory
from tests.catalog.factories import ProductFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
Status = PurchaseOrder.Status


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _invoice(
    company: Company, number: str, total: str, *, due_days_ago: int, paid: str = "0", state: str = "posted"
) -> Invoice:
    today = timezone.localdate()
    return Invoice.objects.create(
        company=company,
        erp_id=f"{company.pk}-{number}",
        number=number,
        invoice_date=today - timedelta(days=due_days_ago + 30),
        due_date=today - timedelta(days=due_days_ago),
        total_amount=D(total),
        amount_paid=D(paid),
        state=state,
    )


@pytest.fixture
def shop(db: None, staff_factory) -> dict:  # type: ignore[no-untyped-def]
    company = CompanyFactory(name="Acme")
    CreditAccount.objects.create(company=company, credit_limit=D("1000.00"))
    ProductFactory(sku="BOLT", list_price=D("100.0000"))
    return {
        "company": company,
        "buyer": MembershipFactory(
            company=company, role=Role.BUYER, user=UserFactory(email="buyer@acme.example")
        ).user,
        "viewer": MembershipFactory(company=company, role=Role.VIEWER).user,
        "ship_to": ShipToAddressFactory(company=company, is_default=True),
        "finance": staff_factory(StaffRole.FINANCE, email="fin@wholesaler.example"),
        "manager": staff_factory(StaffRole.ACCOUNT_MANAGER),
    }


def _submit(shop: dict, number: str, quantity: str, buyer=None) -> PurchaseOrder:  # type: ignore[no-untyped-def]
    buyer = buyer or shop["buyer"]
    order = orders.purchase_order_draft_get(company=shop["company"], buyer=buyer)
    order.customer_po_number, order.ship_to = number, shop["ship_to"]
    order.save()
    orders.purchase_order_lines_add(purchase_order=order, lines=[ParsedLine(1, "BOLT", D(quantity), "")])
    return purchase_order_submit_and_route(purchase_order=order, actor=buyer)


# --- Buyer -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BUYER, Role.APPROVER, Role.VIEWER])
def test_every_member_sees_their_own_invoices_and_aging_only(shop: dict, role: str) -> None:
    user = MembershipFactory(company=shop["company"], role=role).user
    _invoice(shop["company"], "INV-1", "300.00", due_days_ago=45, paid="100.00")
    _invoice(shop["company"], "INV-2", "50.00", due_days_ago=-10)
    other = CompanyFactory(name="Globex")
    _invoice(other, "INV-GLOBEX", "999.00", due_days_ago=100)

    html = _client(user).get("/invoices/").content.decode()

    assert 'data-invoice="INV-1"' in html
    assert 'data-invoice="INV-2"' in html
    assert "INV-GLOBEX" not in html
    assert "999.00" not in html
    assert "45 days past due" in html
    assert 'data-bucket="31_60">200.00' in html  # 300 less 100 paid
    assert 'data-bucket="current">50.00' in html
    assert 'data-bucket="total"><strong>250.00' in html
    assert 'data-field="available">' in html
    assert "750.00 USD" in html


def test_staff_without_membership_cannot_open_buyer_invoices(shop: dict) -> None:
    assert _client(shop["finance"]).get("/invoices/").status_code == 403


def test_builder_meter_warns_at_80_and_100_percent(shop: dict) -> None:
    client = _client(shop["buyer"])
    client.post("/orders/draft/quick/", {"lines": "BOLT 5"})
    html = client.get("/orders/draft/").content.decode()
    assert 'data-level="ok"' in html
    assert 'data-field="credit-warning"' not in html
    assert 'data-field="credit-percent">50%' in html

    html = client.post("/orders/draft/quick/", {"lines": "BOLT 3"}, **HTMX).content.decode()  # 800 of 1000
    assert 'data-level="warning"' in html
    assert "With this order you use 80% of your credit limit; 200.00 USD would remain." in html

    html = client.post("/orders/draft/quick/", {"lines": "BOLT 3"}, **HTMX).content.decode()  # 1100
    assert 'data-level="over"' in html
    assert "over its credit limit" in html
    assert "100.00 USD over" in html


def test_builder_meter_counts_what_the_company_already_owes(shop: dict) -> None:
    _invoice(shop["company"], "INV-1", "600.00", due_days_ago=-5)
    client = _client(shop["buyer"])

    html = client.post("/orders/draft/quick/", {"lines": "BOLT 2"}, **HTMX).content.decode()

    assert 'data-field="available-credit">400.00 USD' in html
    assert 'data-field="credit-percent">80%' in html


def test_held_order_tells_the_buyer_why(shop: dict) -> None:
    order = _submit(shop, "PO-BIG", "11")

    html = _client(shop["viewer"]).get(f"/orders/{order.pk}/").content.decode()

    assert order.status == Status.CREDIT_HOLD
    assert (
        'data-field="credit-hold">On credit hold: this order (1100.00 USD) would take the account over '
        "its credit limit of 1000.00 USD by 100.00 USD" in html
    )


def test_company_on_hold_cannot_submit_and_is_told_why(shop: dict) -> None:
    company = shop["company"]
    company.status, company.hold_reason = Company.Status.ON_HOLD, "cheque bounced"
    company.save()
    client = _client(shop["buyer"])
    client.post("/orders/draft/quick/", {"lines": "BOLT 1"})
    client.post("/orders/draft/header/", {"customer_po_number": "PO-H", "ship_to": shop["ship_to"].pk})

    page = client.get("/orders/draft/").content.decode()
    response = client.post("/orders/draft/submit/", follow=True)

    assert "Acme is on hold: cheque bounced." in page
    assert "disabled" in page
    assert "Acme is on hold and cannot submit orders: cheque bounced." in response.content.decode()
    assert PurchaseOrder.objects.get(customer_po_number="PO-H").status == Status.DRAFT
    assert not SyncJob.objects.exists()


# --- Finance ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["buyer", "viewer", "manager"])
def test_only_finance_reaches_the_queue_and_decisions(shop: dict, who: str) -> None:
    order = _submit(shop, "PO-BIG", "11")
    hold = CreditHold.objects.get(purchase_order=order)
    client = _client(shop[who])

    assert client.get("/finance/holds/").status_code == 403
    assert client.get(f"/finance/holds/{hold.pk}/").status_code == 403
    assert (
        client.post(f"/finance/holds/{hold.pk}/decide/", {"decision": "release", "reason": "x"}).status_code
        == 403
    )
    assert client.get(f"/finance/companies/{shop['company'].pk}/credit/").status_code == 403
    hold.refresh_from_db()
    assert hold.status == CreditHold.Status.OPEN


def test_queue_shows_each_hold_with_exposure_and_aging(shop: dict) -> None:
    _invoice(shop["company"], "INV-OLD", "120.00", due_days_ago=70)
    shop["company"].credit_account.past_due_tolerance_days = 90
    shop["company"].credit_account.save()
    order = _submit(shop, "PO-BIG", "10")  # 1000 + 120 owed > 1000

    html = _client(shop["finance"]).get("/finance/holds/").content.decode()

    assert order.status == Status.CREDIT_HOLD
    assert 'data-po="PO-BIG"' in html
    assert "Over the credit limit" in html
    assert '<td class="num">1120.00</td>' in html  # exposure: the held order counts while it waits
    assert "61-90 days: 120.00" in html
    assert 'hx-trigger="every 5s [holdQueueIdle()]"' in html


def test_queue_poll_answers_204_when_nothing_changed(shop: dict) -> None:
    _submit(shop, "PO-BIG", "11")
    client = _client(shop["finance"])
    first = client.get("/finance/holds/", **HTMX)
    version = first.content.decode().split("/finance/holds/?v=")[1].split('"')[0]

    assert client.get(f"/finance/holds/?v={version}", **HTMX).status_code == 204
    _submit(shop, "PO-BIG-2", "12", buyer=MembershipFactory(company=shop["company"], role=Role.BUYER).user)
    again = client.get(f"/finance/holds/?v={version}", **HTMX)
    assert again.status_code == 200
    assert 'data-po="PO-BIG-2"' in again.content.decode()


def test_release_from_the_queue(shop: dict, django_capture_on_commit_callbacks, mailoutbox) -> None:  # type: ignore[no-untyped-def]
    order = _submit(shop, "PO-BIG", "11")
    hold = CreditHold.objects.get(purchase_order=order)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        html = (
            _client(shop["finance"])
            .post(
                f"/finance/holds/{hold.pk}/decide/",
                {"decision": "release", "reason": "Payment received"},
                **HTMX,
            )
            .content.decode()
        )

    order.refresh_from_db()
    hold.refresh_from_db()
    assert order.status == Status.APPROVED
    assert (hold.status, hold.decided_by, hold.decision_note) == (
        CreditHold.Status.RELEASED,
        shop["finance"],
        "Payment received",
    )
    assert SyncJob.objects.filter(kind="order.push", target_id=str(order.pk)).count() == 1
    assert "Order PO-BIG released." in html
    assert "Nothing waiting" in html
    assert "Payment received" in html  # recent decisions
    assert [m.to for m in mailoutbox] == [["buyer@acme.example"]]
    assert "released your order PO-BIG" in mailoutbox[0].body


def test_decision_without_a_reason_changes_nothing(shop: dict) -> None:
    order = _submit(shop, "PO-BIG", "11")
    hold = CreditHold.objects.get(purchase_order=order)

    html = (
        _client(shop["finance"])
        .post(f"/finance/holds/{hold.pk}/decide/", {"decision": "reject", "reason": "  "}, **HTMX)
        .content.decode()
    )

    hold.refresh_from_db()
    order.refresh_from_db()
    assert "Give a reason: the buyer is told, and it is kept for audit." in html
    assert (hold.status, order.status) == (CreditHold.Status.OPEN, Status.CREDIT_HOLD)


def test_bulk_reject_then_a_stale_tick_is_explained(shop: dict) -> None:
    first = _submit(shop, "PO-A", "11")
    second = _submit(
        shop, "PO-B", "12", buyer=MembershipFactory(company=shop["company"], role=Role.BUYER).user
    )
    holds = [CreditHold.objects.get(purchase_order=o).pk for o in (first, second)]
    client = _client(shop["finance"])

    html = client.post(
        "/finance/holds/bulk/",
        {"hold": holds, "decision": "reject", "reason": "Ask for a prepayment"},
        **HTMX,
    ).content.decode()
    stale = client.post(
        "/finance/holds/bulk/", {"hold": holds[:1], "decision": "release", "reason": "oops"}, **HTMX
    ).content.decode()

    assert "2 orders rejected." in html
    assert set(
        PurchaseOrder.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)
    ) == {Status.REJECTED}
    assert "decided meanwhile" in stale
    assert not SyncJob.objects.exists()  # a rejected order never reaches the ERP


def test_hold_detail_and_company_credit_pages(shop: dict) -> None:
    _invoice(shop["company"], "INV-9", "80.00", due_days_ago=5)
    order = _submit(shop, "PO-BIG", "11")
    hold = CreditHold.objects.get(purchase_order=order)
    client = _client(shop["finance"])

    detail = client.get(f"/finance/holds/{hold.pk}/").content.decode()
    credit = client.get(f"/finance/companies/{shop['company'].pk}/credit/").content.decode()

    assert "Invoices past due" in detail
    assert "Over the credit limit" in detail
    assert 'data-invoice="INV-9"' in detail
    assert "5 days past due" in detail
    assert 'data-bucket="1_30">80.00' in credit
    assert "PO-BIG" in credit
    assert client.get("/finance/holds/999999/").status_code == 404


def test_tolerance_is_validated_and_saved(shop: dict) -> None:
    client = _client(shop["finance"])
    url = f"/finance/companies/{shop['company'].pk}/tolerance/"

    bad = client.post(url, {"past_due_tolerance_days": "-3"})
    good = client.post(url, {"past_due_tolerance_days": "15"}, follow=True)

    assert bad.status_code == 400
    assert "Ensure this value is greater than or equal to 0." in bad.content.decode()
    assert "Past-due tolerance of Acme saved." in good.content.decode()
    assert CreditAccount.objects.get(company=shop["company"]).past_due_tolerance_days == 15


def test_finance_home_shows_credit_per_account_without_n_plus_one(
    shop: dict,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    for n in range(15):
        company = CompanyFactory(name=f"Co {n:02}")
        CreditAccount.objects.create(company=company, credit_limit=D("500.00"))
        _invoice(company, f"INV-{n}", "10.00", due_days_ago=40)
    client = _client(shop["finance"])

    with django_assert_max_num_queries(14):
        html = client.get("/finance/").content.decode()

    assert html.count('class="num error">10.00') == 15  # past due per account


def test_queue_query_count_does_not_grow_with_holds(
    shop: dict,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    for n in range(12):
        company = CompanyFactory(name=f"Co {n:02}")
        CreditAccount.objects.create(company=company, credit_limit=D("10.00"))
        buyer = MembershipFactory(company=company, role=Role.BUYER).user
        order = orders.purchase_order_draft_get(company=company, buyer=buyer)
        order.customer_po_number, order.ship_to = f"PO-{n}", ShipToAddressFactory(company=company)
        order.save()
        orders.purchase_order_lines_add(purchase_order=order, lines=[ParsedLine(1, "BOLT", D("1"), "")])
        purchase_order_submit_and_route(purchase_order=order, actor=buyer)
    client = _client(shop["finance"])

    with django_assert_max_num_queries(14):
        html = client.get("/finance/holds/").content.decode()

    assert html.count('data-po="PO-') == 12


def test_reject_from_the_hold_page_returns_to_it_with_the_decision(shop: dict) -> None:
    order = _submit(shop, "PO-BIG", "11")
    hold = CreditHold.objects.get(purchase_order=order)
    client = _client(shop["finance"])

    page = client.post(
        f"/finance/holds/{hold.pk}/decide/",
        {"decision": "reject", "reason": "Ask for a prepayment", "from": "detail"},
        follow=True,
    ).content.decode()

    order.refresh_from_db()
    assert order.status == Status.REJECTED
    assert "Order PO-BIG rejected." in page
    assert f"Rejected by {shop['finance'].email}" in page
    assert "Ask for a prepayment" in page
    assert 'name="decision"' not in page  # decided: no form any more
    assert not SyncJob.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"decision": "release", "reason": "ok"}, "Tick at least one order."),
        ({"decision": "release", "reason": " ", "hold": "HOLD"}, "Give a reason: the buyer is told"),
        ({"decision": "maybe", "reason": "ok", "hold": "HOLD"}, "Select a valid choice."),
    ],
)
def test_a_bad_bulk_decision_explains_itself_and_changes_nothing(
    shop: dict, data: dict, message: str
) -> None:
    order = _submit(shop, "PO-BIG", "11")
    hold = CreditHold.objects.get(purchase_order=order)
    if data.get("hold") == "HOLD":
        data = {**data, "hold": [hold.pk]}

    html = _client(shop["finance"]).post("/finance/holds/bulk/", data, **HTMX).content.decode()

    hold.refresh_from_db()
    assert message in html
    assert hold.status == CreditHold.Status.OPEN
    assert PurchaseOrder.objects.get(pk=order.pk).status == Status.CREDIT_HOLD
