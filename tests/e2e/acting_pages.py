"""Page helpers for journeys that act for a customer; plain functions over a Playwright page, to be
combined with other journeys (sign in, start acting with a reason, read the banner, stop, read the log)."""

from __future__ import annotations

from typing import Any

from tests.accounts.factories import PASSWORD

Page = Any  # playwright.sync_api.Page; the e2e tests import Playwright lazily


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def open_acting_form(page: Page, base: str, company_id: int) -> None:
    """From the manager's company page, follow "Act for a buyer"."""
    page.goto(f"{base}/manager/companies/{company_id}/")
    page.get_by_role("link", name="Act for a buyer").click()
    page.get_by_role("heading", name="Act for a buyer").wait_for()


def start_acting(page: Page, buyer_email: str, reason: str) -> None:
    """On the acting form: choose the buyer by email, give the reason, start; lands on the buyer's draft."""
    option = page.locator("#id_buyer option", has_text=buyer_email)
    page.get_by_label("Act for").select_option(value=option.get_attribute("value"))
    page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Start acting").click()
    page.wait_for_load_state()


def acting_banner(page: Page) -> Any:
    return page.get_by_role("region", name="Acting for a customer")


def stop_acting(page: Page) -> None:
    acting_banner(page).get_by_role("button", name="Stop acting").click()
    page.wait_for_load_state()


def company_log_rows(page: Page, base: str) -> Any:
    """The company admin's log: one row per acting session, newest first."""
    page.goto(f"{base}/company/log/")
    return page.locator("#acting-log tbody tr[data-acting-session]")
