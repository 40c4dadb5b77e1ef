from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.core import mail
from django.test import Client

from apps.accounts.models import Company, Membership, Role
from tests.accounts.factories import PASSWORD


@pytest.fixture
def buyer(company: Company, member_factory: Callable) -> Membership:
    return member_factory(company, Role.BUYER, email="buyer@acme.example")


def test_login_by_email_lands_on_the_role_home(client: Client, buyer: Membership) -> None:
    response = client.post(
        "/accounts/login/", {"username": "Buyer@Acme.example", "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == "/buyer/"
    assert response.status_code == 200


def test_wrong_password_shows_a_form_error(client: Client, buyer: Membership) -> None:
    response = client.post("/accounts/login/", {"username": "buyer@acme.example", "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct email and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_needs_post_and_ends_the_session(client: Client, buyer: Membership) -> None:
    client.force_login(buyer.user)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert client.get("/buyer/").status_code == 302


def test_repeated_failures_lock_the_account_even_with_the_right_password(
    client: Client, buyer: Membership, settings
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post("/accounts/login/", {"username": "buyer@acme.example", "password": "wrong-guess"})

    response = client.post("/accounts/login/", {"username": "buyer@acme.example", "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_account_not_global(
    client: Client, buyer: Membership, company: Company, member_factory: Callable, settings
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    member_factory(company, Role.VIEWER, email="viewer@acme.example")
    for _ in range(3):
        client.post("/accounts/login/", {"username": "buyer@acme.example", "password": "wrong-guess"})

    response = client.post("/accounts/login/", {"username": "viewer@acme.example", "password": PASSWORD})

    assert response.status_code == 302


def test_password_reset_by_email(client: Client, buyer: Membership) -> None:
    response = client.post("/accounts/password-reset/", {"email": "buyer@acme.example"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body)
    assert link is not None

    form_page = client.get(link.group(1), follow=True)
    set_url = form_page.redirect_chain[-1][0]
    response = client.post(
        set_url, {"new_password1": "brand-New-pass-99", "new_password2": "brand-New-pass-99"}
    )

    assert response.status_code == 302
    buyer.user.refresh_from_db()
    assert buyer.user.check_password("brand-New-pass-99")


def test_password_reset_for_unknown_email_reveals_nothing(client: Client, db: None) -> None:
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert mail.outbox == []


def test_invitation_page_for_unknown_token_is_a_404_page(client: Client, db: None) -> None:
    response = client.get("/accounts/invitation/not-a-token/")

    assert response.status_code == 404
    assert "This invitation is not valid" in response.content.decode()


def test_invitation_accept_with_mismatched_passwords_keeps_the_form(
    client: Client, company: Company, company_admin: Membership
) -> None:
    from apps.accounts.services import invitation_create

    invitation = invitation_create(
        company=company, email="n@example.com", role=Role.BUYER, invited_by=company_admin.user
    )

    response = client.post(
        f"/accounts/invitation/{invitation.token}/",
        {"first_name": "N", "last_name": "M", "password1": "a-Long-pass-77", "password2": "different-Pass-1"},
    )

    assert response.status_code == 200
    assert "The two passwords differ." in response.content.decode()
    assert not Membership.objects.filter(user__email="n@example.com").exists()
