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

from apps.accounts.models import Membership, Role
from apps.core.http import AuthenticatedRequest
from apps.core.staff import staff_role_required as staff_role_required  # re-exported for the domain apps
from apps.core.staff import user_staff_roles as user_staff_roles

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


class MemberRequest(AuthenticatedRequest):
    """A request that passed ``company_role_required``: the user's active membership is attached."""

    membership: Membership


AnyUser = AbstractBaseUser | AnonymousUser


def user_membership(user: AnyUser) -> Membership | None:
    """The user's active membership with its company, or None. Cached on the user object."""
    if not user.is_authenticated or not user.is_active:
        return None
    if hasattr(user, "_portal_membership"):
        return cast(Membership | None, user._portal_membership)
    membership = Membership.objects.active().select_related("company").filter(user_id=user.pk).first()
    user._portal_membership = membership  # type: ignore[attr-defined]
    return membership


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
