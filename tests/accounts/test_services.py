from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.accounts.exceptions import InvitationError, MembershipError
from apps.accounts.models import Company, Invitation, Membership, Role, ShipToAddress, StaffRole
from apps.accounts.services import (
    invitation_accept,
    invitation_create,
    invitation_revoke,
    membership_change_role,
    membership_deactivate,
    membership_reactivate,
    ship_to_address_save,
    staff_user_set_roles,
)
from tests.accounts.factories import UserFactory

User = get_user_model()


def test_invitation_create_sends_one_email_with_a_working_link(
    company: Company, company_admin: Membership, django_capture_on_commit_callbacks: Callable
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitation_create(
            company=company, email=" New.Buyer@Example.COM ", role=Role.BUYER, invited_by=company_admin.user
        )

    assert invitation.email == "new.buyer@example.com"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.buyer@example.com"]
    assert company.name in message.subject
    assert f"/accounts/invitation/{invitation.token}/" in message.body


def test_invitation_create_replaces_an_open_invitation(company: Company, company_admin: Membership) -> None:
    first = invitation_create(
        company=company, email="a@example.com", role=Role.BUYER, invited_by=company_admin.user
    )
    second = invitation_create(
        company=company, email="a@example.com", role=Role.VIEWER, invited_by=company_admin.user
    )

    first.refresh_from_db()
    assert first.revoked_at is not None
    assert second.is_usable()


def test_invitation_refused_for_a_member_of_another_company(
    company: Company, other_company: Company, company_admin: Membership, member_factory: Callable
) -> None:
    member_factory(other_company, Role.BUYER, email="taken@example.com")

    with pytest.raises(InvitationError, match="another company"):
        invitation_create(
            company=company, email="taken@example.com", role=Role.BUYER, invited_by=company_admin.user
        )
    assert not Invitation.objects.filter(email="taken@example.com").exists()


def test_invitation_accept_creates_an_active_member_with_the_invited_role(
    company: Company, company_admin: Membership
) -> None:
    invitation = invitation_create(
        company=company, email="bea@example.com", role=Role.APPROVER, invited_by=company_admin.user
    )

    user = invitation_accept(
        token=invitation.token, password="a-Long-pass-77", first_name="Bea", last_name="B"
    )

    assert user.check_password("a-Long-pass-77")
    assert user.membership.company == company
    assert user.membership.role == Role.APPROVER
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    with pytest.raises(InvitationError):
        invitation_accept(token=invitation.token, password="another-Long-pass-1")


def test_invitation_accept_rejects_weak_password_and_changes_nothing(
    company: Company, company_admin: Membership
) -> None:
    invitation = invitation_create(
        company=company, email="weak@example.com", role=Role.BUYER, invited_by=company_admin.user
    )

    with pytest.raises(ValidationError):
        invitation_accept(token=invitation.token, password="123")

    assert not User.objects.filter(email="weak@example.com").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


@pytest.mark.parametrize("spoil", ["expired", "revoked"])
def test_unusable_invitation_is_refused(company: Company, company_admin: Membership, spoil: str) -> None:
    invitation = invitation_create(
        company=company, email="late@example.com", role=Role.BUYER, invited_by=company_admin.user
    )
    if spoil == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        invitation_revoke(invitation=invitation)

    with pytest.raises(InvitationError, match="no longer valid"):
        invitation_accept(token=invitation.token, password="a-Long-pass-77")
    assert not User.objects.filter(email="late@example.com").exists()


def test_deactivated_member_can_be_invited_back(
    company: Company, company_admin: Membership, member_factory: Callable
) -> None:
    member = member_factory(company, Role.BUYER, email="back@example.com")
    membership_deactivate(membership=member, actor=company_admin.user)

    invitation = invitation_create(
        company=company, email="back@example.com", role=Role.VIEWER, invited_by=company_admin.user
    )
    user = invitation_accept(token=invitation.token, password="a-Long-pass-77")

    member.refresh_from_db()
    assert user.pk == member.user_id
    assert member.is_active
    assert user.is_active
    assert member.role == Role.VIEWER


def test_last_admin_cannot_be_demoted_or_deactivated(
    company: Company, company_admin: Membership, member_factory: Callable
) -> None:
    other_admin_actor = member_factory(company, Role.BUYER).user

    with pytest.raises(MembershipError, match="at least one active admin"):
        membership_change_role(membership=company_admin, role=Role.BUYER, actor=company_admin.user)
    with pytest.raises(MembershipError, match="at least one active admin"):
        membership_deactivate(membership=company_admin, actor=other_admin_actor)

    company_admin.refresh_from_db()
    assert company_admin.role == Role.ADMIN
    assert company_admin.is_active


def test_admin_can_be_demoted_when_another_admin_exists(
    company: Company, company_admin: Membership, member_factory: Callable
) -> None:
    member_factory(company, Role.ADMIN)

    membership_change_role(membership=company_admin, role=Role.BUYER, actor=company_admin.user)

    company_admin.refresh_from_db()
    assert company_admin.role == Role.BUYER


def test_admin_cannot_deactivate_themselves(
    company: Company, company_admin: Membership, member_factory: Callable
) -> None:
    member_factory(company, Role.ADMIN)

    with pytest.raises(MembershipError, match="yourself"):
        membership_deactivate(membership=company_admin, actor=company_admin.user)
    company_admin.refresh_from_db()
    assert company_admin.is_active


def test_deactivation_blocks_sign_in_and_reactivation_restores_it(
    client, company: Company, company_admin: Membership, member_factory: Callable
) -> None:
    member = member_factory(company, Role.BUYER, email="gone@example.com")
    membership_deactivate(membership=member, actor=company_admin.user)

    response = client.post(
        "/accounts/login/", {"username": "gone@example.com", "password": "correct-Horse-42"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session

    membership_reactivate(membership=member, actor=company_admin.user)
    response = client.post(
        "/accounts/login/", {"username": "gone@example.com", "password": "correct-Horse-42"}
    )
    assert response.status_code == 302


def test_first_address_becomes_default_and_default_moves(company: Company) -> None:
    fields = {"street": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "us"}
    first = ship_to_address_save(company=company, label="Dock A", **fields)
    second = ship_to_address_save(company=company, label="Dock B", is_default=True, **fields)

    first.refresh_from_db()
    assert first.country == "US"
    assert second.is_default
    assert not first.is_default
    assert ShipToAddress.objects.filter(company=company, is_default=True).count() == 1


def test_duplicate_address_label_is_a_validation_error(company: Company) -> None:
    fields = {"street": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"}
    ship_to_address_save(company=company, label="Dock A", **fields)

    with pytest.raises(ValidationError):
        ship_to_address_save(company=company, label="Dock A", **fields)
    assert ShipToAddress.objects.filter(company=company).count() == 1


def test_default_address_cannot_be_archived(company: Company) -> None:
    fields = {"street": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"}
    address = ship_to_address_save(company=company, label="Dock A", **fields)

    with pytest.raises(ValidationError, match="cannot be archived"):
        ship_to_address_save(company=company, address=address, label="Dock A", is_active=False, **fields)
    address.refresh_from_db()
    assert address.is_active


def test_setting_staff_roles_keeps_groups_that_are_not_roles(db: None) -> None:
    user = UserFactory()
    approvers = Group.objects.create(name="Quote approvers")
    user.groups.add(approvers)

    staff_user_set_roles(user=user, roles=[StaffRole.ACCOUNT_MANAGER])
    staff_user_set_roles(user=user, roles=[StaffRole.FINANCE])

    assert set(user.groups.values_list("name", flat=True)) == {"Quote approvers", "Finance"}
