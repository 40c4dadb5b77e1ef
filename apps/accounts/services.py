from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task
from rest_framework.authtoken.models import Token

from apps.accounts import erp
from apps.accounts.exceptions import ActingError, InvitationError, MembershipError
from apps.accounts.models import (
    STAFF_GROUP_NAMES,
    ActingAction,
    ActingSession,
    Company,
    Invitation,
    Membership,
    Role,
    ShipToAddress,
    StaffRole,
)
from apps.accounts.permissions import ACTING_ROLES, user_staff_roles

# Permissions each staff group holds, as "app_label.codename". Portal admins also get Django admin access.
STAFF_GROUP_PERMISSIONS: dict[StaffRole, list[str]] = {
    StaffRole.ACCOUNT_MANAGER: [
        "accounts.view_company",
        "accounts.add_company",
        "accounts.change_company",
        "accounts.view_membership",
        "accounts.view_shiptoaddress",
    ],
    StaffRole.FINANCE: [
        "accounts.view_company",
        "accounts.view_all_companies",
        "accounts.manage_credit_holds",
    ],
    StaffRole.ADMIN: [
        "accounts.view_all_companies",
        "accounts.manage_credit_holds",
        "accounts.add_company",
        "accounts.change_company",
        "accounts.delete_company",
        "accounts.view_company",
        "accounts.add_membership",
        "accounts.change_membership",
        "accounts.view_membership",
        "accounts.add_shiptoaddress",
        "accounts.change_shiptoaddress",
        "accounts.view_shiptoaddress",
        "accounts.view_invitation",
        "core.view_workerheartbeat",
        "auth.view_user",
        "auth.change_user",
        "auth.view_group",
    ],
}


@transaction.atomic
def staff_groups_ensure() -> dict[StaffRole, Group]:
    """Create the staff groups with exactly their declared permissions; idempotent."""
    groups: dict[StaffRole, Group] = {}
    for role, name in STAFF_GROUP_NAMES.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions: list[Permission] = []
        for dotted in STAFF_GROUP_PERMISSIONS[role]:
            app_label, codename = dotted.split(".")
            permissions.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(permissions)
        groups[role] = group
    return groups


def staff_user_set_roles(*, user: User, roles: list[StaffRole]) -> None:
    """Give a wholesaler employee exactly ``roles``; portal admins may use Django admin. Groups that are
    not staff roles (the quote approvers) are left as they are."""
    groups = staff_groups_ensure()
    user.groups.remove(*[group for role, group in groups.items() if role not in roles])
    user.groups.add(*[groups[role] for role in roles])
    user.is_staff = StaffRole.ADMIN in roles
    user.save(update_fields=["is_staff"])


@transaction.atomic
def company_create(
    *,
    name: str,
    erp_customer_code: str = "",
    account_manager: User | None = None,
    push_to_erp: bool = False,
    **fields: Any,
) -> Company:
    """Create a company. With ``push_to_erp`` it gets a portal-reserved customer code and an outbox job
    that creates the ERP customer once; the code is the ERP-side idempotency key."""
    company = Company(
        name=name, erp_customer_code=erp_customer_code, account_manager=account_manager, **fields
    )
    company.full_clean()
    company.save()
    if push_to_erp:
        if not company.erp_customer_code:
            company.erp_customer_code = f"{settings.ERP_CUSTOMER_CODE_PREFIX}{company.pk:06d}"
            company.save(update_fields=["erp_customer_code", "updated_at"])
        erp.customer_push_enqueue(company)
    return company


@transaction.atomic
def company_update_contact(
    *, company: Company, phone: str, billing_email: str, website: str, time_zone: str | None = None
) -> Company:
    """Update the portal-owned contact fields and time zone; name and ERP code belong to the ERP.
    A new time zone counts for quotes made from now on: an offer on the table keeps the day it was
    given."""
    company.phone = phone
    company.billing_email = billing_email
    company.website = website
    if time_zone is not None:
        company.time_zone = time_zone
    company.full_clean()
    company.save(update_fields=["phone", "billing_email", "website", "time_zone", "updated_at"])
    return company


ERP_HOLD_REASON = "On credit hold in the ERP"  # the reason shown when the ERP gives none


def _hold_set(company: Company, locked: Company, status: str, source: str, reason: str) -> bool:
    """Write the hold fields of a locked company when they change; the caller's instance follows."""
    values = {"status": status, "hold_source": source, "hold_reason": reason}
    changed = any(getattr(locked, name) != value for name, value in values.items())
    if changed:
        for name, value in values.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*values, "updated_at"])
    for name in values:
        setattr(company, name, getattr(locked, name))
    return changed


@transaction.atomic
def company_hold_put(
    *, company: Company, reason: str, source: Company.HoldSource = Company.HoldSource.PORTAL
) -> bool:
    """Put a company on hold (its buyers cannot submit orders); True when something changed.

    Finance (``PORTAL``) must say why, and cannot hold a company the ERP holds (the ERP owns that one).
    The ERP's hold (``ERP``, from the customer sync) goes on only when the company is not on hold: a hold
    finance put on stays finance's; a company the ERP holds takes the ERP's new reason. The company row is
    locked, so finance and the sync never overwrite each other."""
    locked = Company.objects.select_for_update().get(pk=company.pk)
    if source == Company.HoldSource.ERP:
        if not locked.is_on_hold:
            return _hold_set(company, locked, Company.Status.ON_HOLD, source, reason or ERP_HOLD_REASON)
        if locked.hold_source == Company.HoldSource.ERP and reason and reason != locked.hold_reason:
            return _hold_set(company, locked, locked.status, source, reason)
        return _hold_set(company, locked, locked.status, locked.hold_source, locked.hold_reason)
    if not reason.strip():
        raise MembershipError("Say why the company is put on hold; buyers are shown the reason.")
    if locked.hold_source == Company.HoldSource.ERP:
        raise MembershipError(f"{locked.name} is already on hold in the ERP.")
    return _hold_set(company, locked, Company.Status.ON_HOLD, Company.HoldSource.PORTAL, reason.strip())


@transaction.atomic
def company_hold_lift(*, company: Company, source: Company.HoldSource = Company.HoldSource.PORTAL) -> bool:
    """Lift a company's hold; True when something changed.

    Finance (``PORTAL``) cannot lift a hold the ERP put on (it is lifted there, and the next customer sync
    lifts it here); the ERP (``ERP``) lifts only its own hold, never one finance put on."""
    locked = Company.objects.select_for_update().get(pk=company.pk)
    if source == Company.HoldSource.ERP:
        if locked.hold_source != Company.HoldSource.ERP:
            return _hold_set(company, locked, locked.status, locked.hold_source, locked.hold_reason)
    elif locked.hold_source == Company.HoldSource.ERP:
        raise MembershipError(
            f"{locked.name} is on hold in the ERP; lift the hold there (it owns it) and the next "
            "customer sync lifts it here."
        )
    return _hold_set(company, locked, Company.Status.ACTIVE, Company.HoldSource.NONE, "")


# --- API tokens -----------------------------------------------------------------------------------------


@transaction.atomic
def api_token_regenerate(*, user: User) -> Token:
    """A new personal API token for the user's procurement system; the previous one stops working."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


# --- Invitations ----------------------------------------------------------------------------------------


def _normalise_email(email: str) -> str:
    return email.strip().lower()


@transaction.atomic
def invitation_create(*, company: Company, email: str, role: str, invited_by: User) -> Invitation:
    """Invite ``email`` to ``company``; replaces any open invitation for the same address."""
    email = _normalise_email(email)
    if role not in Role.values:
        raise InvitationError(f"Unknown role {role!r}.")
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        membership = Membership.objects.filter(user=existing).select_related("company").first()
        if membership is not None and membership.company_id != company.pk:
            raise InvitationError(f"{email} already uses the portal for another company.")
        if membership is not None and membership.is_active:
            raise InvitationError(f"{email} is already a member of {company.name}.")
        if membership is None:
            raise InvitationError(f"{email} already has a portal account that is not a company user.")
    now = timezone.now()
    Invitation.objects.filter(
        company=company, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    invitation = Invitation(
        company=company,
        email=email,
        role=role,
        token=secrets.token_urlsafe(32),
        invited_by=invited_by,
        expires_at=now + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
    )
    invitation.full_clean()
    invitation.save()
    transaction.on_commit(lambda: async_task("apps.accounts.tasks.invitation_send", invitation.pk))
    return invitation


def invitation_email_send(*, invitation: Invitation) -> None:
    link = settings.SITE_URL.rstrip("/") + reverse("invitation-accept", kwargs={"token": invitation.token})
    context = {"invitation": invitation, "link": link, "inviter": invitation.invited_by}
    send_mail(
        subject=f"You are invited to order for {invitation.company.name}",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation) -> Invitation:
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation was already accepted.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, password: str, first_name: str = "", last_name: str = "") -> User:
    """Turn an invitation into an active user of the company; the invitation can be used once."""
    invitation = Invitation.objects.select_for_update().select_related("company").filter(token=token).first()
    if invitation is None or not invitation.is_usable():
        raise InvitationError(
            "This invitation link is no longer valid. Ask your company admin for a new one."
        )
    user = User.objects.filter(email__iexact=invitation.email).first()
    if user is None:
        user = User(username=invitation.email, email=invitation.email)
    user.first_name = first_name.strip() or user.first_name
    user.last_name = last_name.strip() or user.last_name
    validate_password(password, user)
    user.set_password(password)
    user.is_active = True
    user.save()
    membership = Membership.objects.filter(user=user).first()
    if membership is not None and membership.company_id != invitation.company_id:
        raise InvitationError("This account already belongs to another company.")
    if membership is None:
        membership = Membership(user=user, company=invitation.company)
    membership.role = invitation.role
    membership.is_active = True
    membership.deactivated_at = None
    membership.save()
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at", "updated_at"])
    return user


# --- Memberships ----------------------------------------------------------------------------------------


def _other_active_admins(membership: Membership) -> bool:
    return (
        Membership.objects.active()
        .filter(company_id=membership.company_id, role=Role.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    )


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    if role not in Role.values:
        raise MembershipError(f"Unknown role {role!r}.")
    # Lock the company's admin rows so two admins demoting each other cannot leave none.
    list(Membership.objects.select_for_update().filter(company_id=membership.company_id, role=Role.ADMIN))
    if membership.role == Role.ADMIN and role != Role.ADMIN and not _other_active_admins(membership):
        raise MembershipError("A company needs at least one active admin; make someone else admin first.")
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    return membership


@transaction.atomic
def membership_deactivate(*, membership: Membership, actor: User) -> Membership:
    """Stop a user from signing in; their orders and history stay."""
    if membership.user_id == actor.pk:
        raise MembershipError("You cannot deactivate yourself.")
    list(Membership.objects.select_for_update().filter(company_id=membership.company_id, role=Role.ADMIN))
    if membership.role == Role.ADMIN and not _other_active_admins(membership):
        raise MembershipError("A company needs at least one active admin.")
    membership.is_active = False
    membership.deactivated_at = timezone.now()
    membership.save(update_fields=["is_active", "deactivated_at", "updated_at"])
    user = membership.user
    user.is_active = False
    user.save(update_fields=["is_active"])
    return membership


@transaction.atomic
def membership_reactivate(*, membership: Membership, actor: User) -> Membership:
    membership.is_active = True
    membership.deactivated_at = None
    membership.save(update_fields=["is_active", "deactivated_at", "updated_at"])
    user = membership.user
    user.is_active = True
    user.save(update_fields=["is_active"])
    return membership


# --- Ship-to addresses ----------------------------------------------------------------------------------

SHIP_TO_FIELDS = (
    "label",
    "street",
    "street_2",
    "city",
    "postal_code",
    "region",
    "country",
    "contact_name",
    "contact_phone",
    "is_default",
    "is_active",
)


@transaction.atomic
def ship_to_address_save(
    *, company: Company, address: ShipToAddress | None = None, **fields: Any
) -> ShipToAddress:
    """Create (address=None) or update an address; the default flag moves, never duplicates."""
    unknown = set(fields) - set(SHIP_TO_FIELDS)
    if unknown:
        raise ValueError(f"Unknown ship-to fields: {sorted(unknown)}")
    if address is None:
        address = ShipToAddress(company=company)
    elif address.company_id != company.pk:
        raise MembershipError("That address belongs to another company.")
    for name, value in fields.items():
        setattr(address, name, value)
    address.country = address.country.upper()
    has_default = ShipToAddress.objects.filter(company=company, is_default=True).exclude(pk=address.pk)
    if not address.is_active and address.is_default:
        raise ValidationError(
            {"is_active": "The default address cannot be archived; make another the default."}
        )
    if address.is_default:
        has_default.update(is_default=False)
    elif not has_default.exists():
        address.is_default = True  # the first address is the default one
    address.full_clean()
    address.save()
    return address


# --- Acting for a customer ------------------------------------------------------------------------------


def acting_allowed_for(*, user: User, company: Company) -> bool:
    """A portal admin may act for any company; an account manager only for the companies assigned to them."""
    roles = user_staff_roles(user)
    if StaffRole.ADMIN in roles:
        return True
    return StaffRole.ACCOUNT_MANAGER in roles and company.account_manager_id == user.pk


@transaction.atomic
def acting_session_start(*, manager: User, company: Company, buyer: User, reason: str) -> ActingSession:
    """Open a session in which ``manager`` builds and submits drafts for ``buyer``; any open one ends."""
    reason = reason.strip()
    if not reason:
        raise ActingError("Say why you act for this buyer; the company's admins read it.")
    if not acting_allowed_for(user=manager, company=company):
        raise ActingError(f"{company.name} is not one of your accounts.")
    membership = Membership.objects.active().filter(user=buyer, company=company).first()
    if membership is None or membership.role not in ACTING_ROLES:
        raise ActingError(f"{buyer.email} is not an active buyer of {company.name}.")
    now = timezone.now()
    for open_session in ActingSession.objects.select_for_update().filter(manager=manager, ended_at=None):
        _acting_session_close(open_session, ActingSession.EndReason.REPLACED, now)
    session = ActingSession(
        manager=manager,
        company=company,
        buyer=buyer,
        reason=reason[:500],
        started_at=now,
        expires_at=now + timedelta(minutes=settings.ACTING_SESSION_MINUTES),
    )
    session.full_clean()
    session.save()
    return session


def _acting_session_close(session: ActingSession, reason: str, now: datetime) -> None:
    session.ended_at = min(now, session.expires_at)
    session.ended_reason = reason
    session.save(update_fields=["ended_at", "ended_reason", "updated_at"])


@transaction.atomic
def acting_session_end(*, session: ActingSession, reason: ActingSession.EndReason) -> ActingSession:
    """End a session; one already ended keeps its first end."""
    locked = ActingSession.objects.select_for_update().get(pk=session.pk)
    if locked.ended_at is None:
        _acting_session_close(locked, reason, timezone.now())
    return locked


def acting_action_record(
    *,
    session: ActingSession,
    action: str,
    path: str,
    status_code: int,
    purchase_order_id: int | None = None,
    order_label: str = "",
) -> ActingAction:
    return ActingAction.objects.create(
        session=session,
        action=action[:100],
        path=path[:300],
        status_code=status_code,
        purchase_order_id=purchase_order_id,
        order_label=order_label[:100],
    )
