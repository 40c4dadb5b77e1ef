from __future__ import annotations

import re

import pytest
from django.core import mail

from apps.accounts.models import Company, Membership, Role
from tests.accounts.factories import PASSWORD, CompanyFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_company_admin_invites_a_buyer_who_joins_and_lands_on_the_buyer_home(live_server, page) -> None:  # type: ignore[no-untyped-def]
    company: Company = CompanyFactory(name="Acme Hardware Co.")
    MembershipFactory(company=company, role=Role.ADMIN, user=UserFactory(email="admin@acme.example"))
    mail.outbox = []

    # The company admin signs in and opens the users page.
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("admin@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/buyer/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()

    # The invitation form posts through htmx: the fragment and the flash swap in without a reload.
    invitations = page.locator("#invitations")
    invitations.get_by_label("Email").fill("bea.buyer@acme.example")
    invitations.get_by_label("Role").select_option("buyer")
    page.evaluate("window.__noReload = true")
    invitations.get_by_role("button", name="Send invitation").click()
    page.get_by_role("status").filter(has_text="Invitation sent to bea.buyer@acme.example.").wait_for()
    assert page.evaluate("window.__noReload") is True
    assert page.locator("#invitations td", has_text="bea.buyer@acme.example").count() == 1

    # The buyer follows the emailed link, in a fresh browser context.
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/invitation/\S+/", mail.outbox[0].body)
    assert link is not None
    path = link.group(0).split("/accounts/", 1)[1]
    buyer_context = page.context.browser.new_context()
    buyer_context.set_default_timeout(15_000)
    buyer_page = buyer_context.new_page()
    buyer_page.goto(f"{live_server.url}/accounts/{path}")
    buyer_page.get_by_label("First name").fill("Bea")
    buyer_page.get_by_label("Last name").fill("Buyer")
    buyer_page.get_by_label("Password", exact=True).fill("a-Strong-pass-2026")
    buyer_page.get_by_label("Password again").fill("a-Strong-pass-2026")
    buyer_page.get_by_role("button", name="Create my account").click()

    buyer_page.wait_for_url(f"{live_server.url}/buyer/")
    assert buyer_page.get_by_role("heading", level=1).inner_text() == "Acme Hardware Co."
    assert "Welcome to Acme Hardware Co." in buyer_page.locator("#messages").inner_text()
    assert "Buyer" in buyer_page.locator("dd", has_text="Buyer").first.inner_text()
    membership = Membership.objects.select_related("user").get(user__email="bea.buyer@acme.example")
    assert membership.company == company
    assert membership.role == Role.BUYER
    assert membership.user.check_password("a-Strong-pass-2026")
    buyer_context.close()
