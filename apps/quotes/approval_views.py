"""The second approval of a deep discount: the queue of offers waiting for a portal admin or a quote
approver, and their decision. The offer's own maker never sees it here (four eyes)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.exceptions import ApplicationError
from apps.quotes import selectors, services
from apps.quotes.models import Quote, QuoteLine, QuoteVersion


def _approver(request: HttpRequest) -> None:
    if not selectors.user_is_quote_approver(user=request.user):  # type: ignore[arg-type]
        raise PermissionDenied(
            "Offers that wait for a second approval are for portal admins and quote approvers."
        )


@require_GET
@login_required
def approval_queue(request: HttpRequest) -> HttpResponse:
    _approver(request)
    lines = QuoteLine.objects.select_related("product").prefetch_related("breaks")
    quotes = list(
        selectors.quote_approvals_waiting(user=request.user).prefetch_related(  # type: ignore[arg-type]
            Prefetch(
                "versions",
                queryset=QuoteVersion.objects.select_related("offered_by")
                .prefetch_related(Prefetch("lines", queryset=lines))
                .order_by("-number"),
            )
        )
    )
    waiting = [(quote, quote.versions.all()[0]) for quote in quotes if quote.versions.all()]
    context = {"waiting": waiting, "threshold": settings.QUOTE_DISCOUNT_APPROVAL_PERCENT}
    return render(request, "quotes/approvals.html", context)


@require_POST
@login_required
def approval_decision(request: HttpRequest, quote_id: int) -> HttpResponse:
    _approver(request)
    quote = Quote.objects.filter(pk=quote_id).first()
    if quote is None:
        raise Http404("No such quote.")
    message = request.POST.get("message", "").strip()[:2000]
    approve = request.POST.get("decision") == "approve"
    try:
        if approve:
            services.quote_offer_approve(quote=quote, actor=request.user, message=message)  # type: ignore[arg-type]
        else:
            services.quote_offer_reject(quote=quote, actor=request.user, message=message)  # type: ignore[arg-type]
    except ApplicationError as exc:
        messages.error(request, f"{quote.number}: {exc.message}")
    else:
        done = "approved: the buyer now has the offer" if approve else "sent back to the account manager"
        messages.success(request, f"{quote.number} {done}.")
    return redirect("quote-approvals")
