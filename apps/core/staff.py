"""The wholesaler's own people: staff roles, each a Django group holding its permissions.

They live in core, not accounts, because every layer checks them: core's health page and the sync
engine's monitor (which import no domain app) as much as the domain apps' staff pages. Company roles
(buyer, approver, admin of a customer) are accounts'."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])
AnyUser = AbstractBaseUser | AnonymousUser


class StaffRole(models.TextChoices):
    """The wholesaler's own people; each role is a Django group holding its permissions."""

    ACCOUNT_MANAGER = "account_manager", "Account manager"
    FINANCE = "finance", "Finance"
    ADMIN = "admin", "Portal admin"


# Group name for each staff role, as created by `staff_groups_ensure`.
STAFF_GROUP_NAMES: dict[StaffRole, str] = {
    StaffRole.ACCOUNT_MANAGER: "Account managers",
    StaffRole.FINANCE: "Finance",
    StaffRole.ADMIN: "Portal admins",
}

_GROUP_TO_ROLE = {name: role for role, name in STAFF_GROUP_NAMES.items()}


def user_staff_roles(user: AnyUser) -> frozenset[StaffRole]:
    """The staff roles of a user; a superuser holds all of them. Cached on the user object."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_portal_staff_roles", None)
    if cached is not None:
        return cast(frozenset[StaffRole], cached)
    if getattr(user, "is_superuser", False):
        roles = frozenset(StaffRole)
    else:
        names = user.groups.values_list("name", flat=True)  # type: ignore[attr-defined]
        roles = frozenset(_GROUP_TO_ROLE[name] for name in names if name in _GROUP_TO_ROLE)
    user._portal_staff_roles = roles  # type: ignore[attr-defined]
    return roles


def user_in_quote_approvers(user: AnyUser) -> bool:
    """A portal admin, or an active member of the group QUOTE_DISCOUNT_APPROVERS_GROUP names: the people
    who may give a deep discount its second approval (apps.quotes)."""
    if StaffRole.ADMIN in user_staff_roles(user):
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    return user.groups.filter(name=settings.QUOTE_DISCOUNT_APPROVERS_GROUP).exists()  # type: ignore[attr-defined]


def staff_allowed(user: AnyUser, roles: tuple[StaffRole, ...]) -> bool:
    held = user_staff_roles(user)
    return StaffRole.ADMIN in held or bool(held.intersection(roles))


def staff_role_required(*roles: StaffRole, acting: bool = False) -> Callable[[ViewFunc], ViewFunc]:
    """Require one of the staff ``roles``; a portal admin passes every staff check.

    A manager acting for a customer (``request.acting``, set by accounts' middleware) is refused unless
    the view says ``acting=True``: while acting, nobody releases credit or changes staff data."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(request, "acting", None) is not None and not acting:
                raise PermissionDenied(
                    "Not while acting for a customer: stop acting to use the wholesaler's pages."
                )
            if not staff_allowed(request.user, roles):
                raise PermissionDenied("This page is for the wholesaler's staff.")
            return view(request, *args, **kwargs)

        return cast(ViewFunc, wrapper)

    return decorator


def staff_emails(*, role: StaffRole) -> list[str]:
    """The email addresses of the active users holding a staff role (its group), sorted."""
    return sorted(
        set(
            User.objects.filter(is_active=True, groups__name=STAFF_GROUP_NAMES[role])
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
