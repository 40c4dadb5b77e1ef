"""Who may do what: company roles for buyer-side users, staff roles (groups) for the wholesaler's people.

Views use the two decorators; every object a view loads is then fetched through a selector scoped to
the membership's company (or to the account manager's accounts), so a foreign id is a 404, not a leak.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from apps.accounts.models import STAFF_GROUP_NAMES, Membership, Role, StaffRole
from apps.core.http import AuthenticatedRequest

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


class MemberRequest(AuthenticatedRequest):
    """A request that passed ``company_role_required``: the user's active membership is attached."""

    membership: Membership


AnyUser = AbstractBaseUser | AnonymousUser

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


def user_membership(user: AnyUser) -> Membership | None:
    """The user's active membership with its company, or None. Cached on the user object."""
    if not user.is_authenticated or not user.is_active:
        return None
    if hasattr(user, "_portal_membership"):
        return cast(Membership | None, user._portal_membership)
    membership = Membership.objects.active().select_related("company").filter(user_id=user.pk).first()
    user._portal_membership = membership  # type: ignore[attr-defined]
    return membership


def _staff_allowed(user: AnyUser, roles: tuple[StaffRole, ...]) -> bool:
    held = user_staff_roles(user)
    return StaffRole.ADMIN in held or bool(held.intersection(roles))


def company_role_required(*roles: Role) -> Callable[[ViewFunc], ViewFunc]:
    """Require an active membership whose role is one of ``roles`` (any role when none are given).

    Sets ``request.membership``. Anonymous users go to the login page; others get a 403.
    """

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = user_membership(request.user)
            if membership is None or (roles and membership.role not in roles):
                raise PermissionDenied("Your role in this company does not allow this.")
            request.membership = membership  # type: ignore[attr-defined]  # narrowed to MemberRequest
            return view(request, *args, **kwargs)

        return cast(ViewFunc, wrapper)

    return decorator


def staff_role_required(*roles: StaffRole) -> Callable[[ViewFunc], ViewFunc]:
    """Require one of the staff ``roles``; a portal admin passes every staff check."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not _staff_allowed(request.user, roles):
                raise PermissionDenied("This page is for the wholesaler's staff.")
            return view(request, *args, **kwargs)

        return cast(ViewFunc, wrapper)

    return decorator
