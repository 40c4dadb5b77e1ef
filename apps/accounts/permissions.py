"""Who may do what: company roles for buyer-side users, staff roles (groups) for the wholesaler's people.

Views use the two decorators; every object a view loads is then fetched through a selector scoped to
the membership's company (or to the account manager's accounts), so a foreign id is a 404, not a leak.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from apps.accounts.models import ActingSession, Membership, Role
from apps.core.http import AuthenticatedRequest
from apps.core.staff import staff_role_required as staff_role_required  # re-exported for the domain apps
from apps.core.staff import user_staff_roles as user_staff_roles

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])

# The members a manager may act for: those who build orders.
ACTING_ROLES = (Role.BUYER, Role.ADMIN)


@dataclass(frozen=True)
class Acting:
    """An open acting session on this request (set by ``ActingMiddleware``), with the buyer's membership."""

    session: ActingSession
    membership: Membership


def request_acting(request: HttpRequest) -> Acting | None:
    return cast(Acting | None, getattr(request, "acting", None))


def acting_buyer(request: HttpRequest) -> User | None:
    """The buyer the signed-in manager acts for, or None when nobody is acted for."""
    acting = request_acting(request)
    return acting.session.buyer if acting is not None else None


def acting_touch(request: HttpRequest, order: Any) -> None:
    """Name the order this request works on, for the acting session's log (no-op when not acting)."""
    if request_acting(request) is not None:
        request.acting_order = order  # type: ignore[attr-defined]


def refuse_while_acting(request: HttpRequest) -> None:
    acting = request_acting(request)
    if acting is not None:
        raise PermissionDenied(
            f"Not while acting for {acting.session.buyer.email}: acting covers the catalog, the draft and "
            "the company's orders only. Stop acting to use this page."
        )


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


def company_role_required(*roles: Role, acting: bool = False) -> Callable[[ViewFunc], ViewFunc]:
    """Require an active membership whose role is one of ``roles`` (any role when none are given).

    Sets ``request.membership``. Anonymous users go to the login page; others get a 403. A manager acting
    for a buyer passes with the buyer's membership on the views marked ``acting=True`` only; every other
    company page refuses them (docs/decisions.md, "Acting for a customer").
    """

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            current = request_acting(request)
            if current is not None and not acting:
                refuse_while_acting(request)
            membership = current.membership if current is not None else user_membership(request.user)
            if membership is None or (roles and membership.role not in roles):
                raise PermissionDenied("Your role in this company does not allow this.")
            request.membership = membership  # type: ignore[attr-defined]  # narrowed to MemberRequest
            return view(request, *args, **kwargs)

        return cast(ViewFunc, wrapper)

    return decorator
