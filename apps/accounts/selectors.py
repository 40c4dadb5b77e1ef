from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet

from apps.accounts.models import ActingSession, Company, Invitation, Membership, ShipToAddress, StaffRole
from apps.accounts.permissions import ACTING_ROLES, user_staff_roles
from apps.core.staff import staff_emails as staff_emails  # re-exported for the domain apps


def membership_list(*, company: Company) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(company=company)
        .select_related("user")
        .order_by("-is_active", "user__email")
    )


def membership_get(*, company: Company, membership_id: int) -> Membership:
    """A membership of ``company``; a foreign id raises Membership.DoesNotExist (a 404 in views)."""
    return Membership.objects.select_related("user", "company").get(company=company, pk=membership_id)


def invitation_pending_list(*, company: Company) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        company=company, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")


def invitation_get(*, company: Company, invitation_id: int) -> Invitation:
    return Invitation.objects.get(company=company, pk=invitation_id)


def ship_to_address_list(*, company: Company, include_inactive: bool = True) -> QuerySet[ShipToAddress]:
    addresses = ShipToAddress.objects.filter(company=company)
    return addresses if include_inactive else addresses.filter(is_active=True)


def ship_to_address_get(*, company: Company, address_id: int) -> ShipToAddress:
    return ShipToAddress.objects.get(company=company, pk=address_id)


def company_list_for_staff(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Company]:
    """The accounts a staff user may see: an account manager their own, finance and admins all."""
    roles = user_staff_roles(user)
    companies = Company.objects.select_related("account_manager").annotate(
        member_count=Count("memberships", filter=Q(memberships__is_active=True), distinct=True),
        address_count=Count("ship_to_addresses", distinct=True),
    )
    if StaffRole.ADMIN in roles or StaffRole.FINANCE in roles:
        return companies
    if StaffRole.ACCOUNT_MANAGER in roles:
        return companies.filter(account_manager_id=user.pk)
    return companies.none()


def company_get_for_staff(*, user: AbstractBaseUser | AnonymousUser, company_id: int) -> Company:
    return company_list_for_staff(user=user).get(pk=company_id)


def company_detail_get_for_staff(*, user: AbstractBaseUser | AnonymousUser, company_id: int) -> Company:
    """An account with its credit account (the ERP's terms and limit) joined: ``company.credit_account``,
    a reverse one-to-one that is missing until the ERP sync makes it."""
    return company_list_for_staff(user=user).select_related("credit_account__payment_term").get(pk=company_id)


def company_get_for_acting(*, user: AbstractBaseUser | AnonymousUser, company_id: int) -> Company:
    """A company the user may act for: any for a portal admin, an assigned one for an account manager
    (finance sees every account but acts for none)."""
    roles = user_staff_roles(user)
    companies = Company.objects.all()
    if StaffRole.ADMIN not in roles:
        companies = (
            companies.filter(account_manager_id=user.pk)
            if StaffRole.ACCOUNT_MANAGER in roles
            else companies.none()
        )
    return companies.get(pk=company_id)


def acting_buyer_choices(*, company: Company) -> QuerySet[Membership]:
    """The members one may act for: the company's active buyers and admins (both build orders)."""
    return (
        Membership.objects.active()
        .filter(company=company, role__in=ACTING_ROLES)
        .select_related("user")
        .order_by("user__email")
    )


def acting_session_get_open(
    *, user: AbstractBaseUser | AnonymousUser, session_id: int
) -> ActingSession | None:
    """The user's own acting session by id, not ended (it may have run out: the caller ends it)."""
    return (
        ActingSession.objects.select_related("company", "buyer", "manager")
        .filter(pk=session_id, manager_id=user.pk, ended_at=None)
        .first()
    )


def acting_session_list(*, company: Company) -> QuerySet[ActingSession]:
    """The company's log of acting sessions, newest first, with what was done under each."""
    return (
        ActingSession.objects.filter(company=company)
        .select_related("manager", "buyer")
        .prefetch_related("actions")
    )
