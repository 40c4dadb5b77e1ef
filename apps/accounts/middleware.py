"""Acting for a customer: the account manager stays the signed-in user; the Django session only points at
the server-side ``ActingSession``, which is checked (open, in time, buyer still active) on every request."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from apps.accounts import selectors, services
from apps.accounts.models import ActingSession, Membership
from apps.accounts.permissions import ACTING_ROLES, Acting

ACTING_SESSION_KEY = "acting_session_id"
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class ActingMiddleware:
    """Set ``request.acting`` (an ``Acting`` or None); end a session that ran out before the view runs,
    so nothing is done under it; log every change made while acting."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.acting = None  # type: ignore[attr-defined]
        session_id = request.session.get(ACTING_SESSION_KEY) if request.user.is_authenticated else None
        if session_id is not None:
            refused = self._resolve(request, session_id)
            if refused is not None:
                return refused
        response = self.get_response(request)
        acting: Acting | None = request.acting  # type: ignore[attr-defined]
        if acting is not None and request.method not in READS:
            _record(request, acting.session, response)
        return response

    def _resolve(self, request: HttpRequest, session_id: int) -> HttpResponse | None:
        session = selectors.acting_session_get_open(user=request.user, session_id=session_id)
        if session is None:
            request.session.pop(ACTING_SESSION_KEY, None)
            return None
        if session.expires_at <= timezone.now():
            services.acting_session_end(session=session, reason=ActingSession.EndReason.EXPIRED)
            expired_at = timezone.localtime(session.expires_at)
            return _leave(
                request,
                session,
                f"Your time acting for {session.buyer.email} ran out at {expired_at:%H:%M}; "
                "nothing was done. Start again if you need more time.",
            )
        if not services.acting_allowed_for(user=request.user, company=session.company):  # type: ignore[arg-type]
            services.acting_session_end(session=session, reason=ActingSession.EndReason.UNASSIGNED)
            return _leave(
                request,
                session,
                f"{session.company.name} is no longer one of your accounts: acting ended, nothing was done.",
                to_company=False,
            )
        membership = (
            Membership.objects.active()
            .filter(user_id=session.buyer_id, company_id=session.company_id, role__in=ACTING_ROLES)
            .first()
        )
        if membership is None:
            services.acting_session_end(session=session, reason=ActingSession.EndReason.BUYER_INACTIVE)
            return _leave(
                request,
                session,
                f"{session.buyer.email} can no longer order for {session.company.name}: acting ended, "
                "nothing was done.",
            )
        membership.company, membership.user = session.company, session.buyer
        request.acting = Acting(session=session, membership=membership)  # type: ignore[attr-defined]
        return None


def _leave(
    request: HttpRequest, session: ActingSession, message: str, *, to_company: bool = True
) -> HttpResponse:
    request.session.pop(ACTING_SESSION_KEY, None)
    messages.warning(request, message)
    if to_company:
        target = reverse("manager-company-detail", kwargs={"company_id": session.company_id})
    else:
        target = reverse("manager-home")
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(target)
    return redirect(target)


def _record(request: HttpRequest, session: ActingSession, response: HttpResponse) -> None:
    match = request.resolver_match
    order = getattr(request, "acting_order", None)
    if order is not None:
        order.refresh_from_db()
    services.acting_action_record(
        session=session,
        action=match.url_name or match.view_name if match else request.path,
        path=request.path,
        status_code=response.status_code,
        purchase_order_id=order.pk if order is not None else None,
        order_label=str(order) if order is not None else "",
    )
