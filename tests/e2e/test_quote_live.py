"""The buyer's quote list and the account manager's queue refresh while open: each side's move shows on
the other's page without a reload (no ERP involved)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.accounts.models import Role, StaffRole
from apps.accounts.services import staff_user_set_roles
from apps.quotes import services as quotes
from apps.quotes.models import Quote
from tests.accounts.factories import (
    PASSWORD,
    CompanyFactory,
    MembershipFactory,
    ShipToAddressFactory,
    UserFactory,
)
from tests.catalog.factories import ProductFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_the_list_and_the_queue_follow_the_other_side(live_server, page, browser) -> None:  # type: ignore[no-untyped-def]
    manager = UserFactory(email="manager@wholesaler.example")
    staff_user_set_roles(user=manager, roles=[StaffRole.ACCOUNT_MANAGER])
    company = CompanyFactory(name="Acme", account_manager=manager)
    ShipToAddressFactory(company=company, is_default=True)
    buyer = MembershipFactory(
        company=company, role=Role.BUYER, user=UserFactory(email="buyer@acme.example")
    ).user
    bolt = ProductFactory(sku="BOLT", list_price=Decimal("10.0000"))
    base = live_server.url

    # The manager's queue is open and empty; the buyer asks (in their own browser): it appears.
    queue = browser.new_context().new_page()
    queue.set_default_timeout(15_000)
    _sign_in(queue, base, "manager@wholesaler.example")
    queue.goto(f"{base}/manager/quotes/")
    queue.get_by_text("Nothing waits for you.").wait_for()
    queue.evaluate("window.__noReload = true")

    _sign_in(page, base, "buyer@acme.example")
    page.goto(f"{base}/quotes/new/")
    page.get_by_label("Products and quantities").fill("BOLT 100")
    page.get_by_role("button", name="Ask for a quote").click()
    page.wait_for_url(f"{base}/quotes/*/")
    quote = Quote.objects.get()
    row = queue.locator(f'#queue-table [data-quote="{quote.number}"]')
    row.wait_for()
    assert "Submitted" in row.inner_text()
    assert "waiting under a minute" in row.inner_text()

    # The buyer's list is open; the manager takes it up and offers: the row follows.
    page.goto(f"{base}/quotes/")
    page.evaluate("window.__noReload = true")
    status = page.locator(f'#quote-table [data-quote="{quote.number}"] [data-field="status"]')
    assert status.inner_text() == "Submitted"
    quotes.quote_review(quote=quote, actor=manager)
    status.filter(has_text="In review").wait_for()
    quotes.quote_offer(
        quote=quote,
        actor=manager,
        lines=[quotes.OfferedLine(bolt, Decimal("100"), Decimal("9.2500"))],
        valid_until=timezone.localdate() + timedelta(days=5),
    )
    status.filter(has_text="Offered").wait_for()
    page.locator(f'#quote-table [data-quote="{quote.number}"] [data-field="total"]').filter(
        has_text="925.00"
    ).wait_for()
    assert page.evaluate("window.__noReload") is True

    # The offer left the manager's queue; the buyer's counter brings it back.
    row.wait_for(state="detached")
    quotes.quote_counter(quote=quote, actor=buyer, message="9 and we sign")
    row.wait_for()
    assert "In review" in row.inner_text()
    assert queue.evaluate("window.__noReload") is True
    queue.context.close()
