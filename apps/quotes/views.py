"""Quote pages: the buyer's list, request and quote page; the account manager's queue, start and offer.

Who reads: every member of the quote's company (approvers and viewers too: they see what is being
negotiated but do not negotiate), its account manager and the portal admins. Who acts: the company's
buyers and admins on the buyer side, the account manager (or a portal admin) on the seller side; the
services check again whose turn it is. Cost and margin are shown to the seller side only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import Membership, Role
from apps.accounts.permissions import (
    MemberRequest,
    company_role_required,
    refuse_while_acting,
    user_membership,
)
from apps.accounts.selectors import company_list_for_staff
from apps.catalog.models import Product
from apps.core.exceptions import ApplicationError
from apps.core.http import AuthenticatedRequest
from apps.core.money import quantize_amount
from apps.core.staff import StaffRole, staff_allowed, staff_role_required, user_staff_roles
from apps.pricing.selectors import PriceQuote, price_resolve_many
from apps.purchase_orders import services as orders
from apps.purchase_orders.quantities import MAX_QUANTITY
from apps.quotes import pricing, selectors, services
from apps.quotes.forms import (
    BREAK_ROWS,
    AcceptForm,
    CloseForm,
    CounterForm,
    DeclineForm,
    FromDraftForm,
    OfferForm,
    RequestForm,
    StartForm,
)
from apps.quotes.models import Quote, QuoteEvent, QuoteLine, QuoteVersion, Side, status_for

BUYERS = (Role.BUYER, Role.ADMIN)
SELLERS = (StaffRole.ACCOUNT_MANAGER,)  # a portal admin passes every staff check
PAGE_SIZE = 25
Status = Quote.Status


def quote_reader_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A member of a company (any role) or the seller side (account manager, portal admin)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if user_membership(request.user) is None and not staff_allowed(request.user, SELLERS):
            raise PermissionDenied("Quotes are for a company's members and its account manager.")
        refuse_while_acting(request)  # quotes are the buyer's own conversation (docs/decisions.md)
        return view(request, *args, **kwargs)

    return wrapper


def _quote_or_404(request: AuthenticatedRequest, quote_id: int) -> Quote:
    try:
        return selectors.quote_get_for_user(user=request.user, quote_id=quote_id)
    except Quote.DoesNotExist as exc:
        raise Http404("No such quote.") from exc


def waiting_for(delta: timedelta) -> str:
    """How long a quote has waited, as the queue says it: "12 min", "3 h", "2 days"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


# --- Live -----------------------------------------------------------------------------------------------


def _poller(request: AuthenticatedRequest, quote_id: int | None) -> dict[str, Any]:
    return {
        "quote_id": quote_id or "",
        "token": selectors.quote_changes_token(user=request.user, quote_id=quote_id),
        "interval": settings.ERP_PAGE_POLL_SECONDS,
    }


@login_required
@require_GET
def quote_changes(request: AuthenticatedRequest) -> HttpResponse:
    """The cheap poll of an open quote page or list: 204 while what it shows is unchanged (the token
    ``v`` it holds), else the poller with the new token and an ``HX-Trigger`` of ``quote-changed``.
    Scoped like the pages: a quote the user cannot see has no token to change."""
    raw = request.GET.get("quote", "")
    quote_id = int(raw) if raw.isdigit() and len(raw) <= 18 else None
    poller = _poller(request, quote_id)
    if poller["token"] == request.GET.get("v", ""):
        return HttpResponse(status=204)
    response = render(request, "quotes/_live.html", poller)
    response["HX-Trigger"] = "quote-changed"
    return response


# --- Lists ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    quote: Quote
    status: Quote.Status  # as the reader's side sees it (a buyer never sees the second approval)
    total: Decimal | None
    waiting: str
    last_move: str  # "Offered by the seller", "Request changed by the buyer"
    valid_until: date | None  # of the offer on the table, or of the one that expired


def _last_move(quote: Any, side: Side) -> str:
    what = status_for(quote.last_move_status, side).label if quote.last_move_status else "Request changed"
    return f"{what} by the {quote.last_move_side}" if quote.last_move_side else f"{what} by the portal"


def _rows(quotes: list[Any], now: datetime, side: Side) -> list[Row]:
    """List rows from ``selectors.quote_list_summarised`` quotes, with one query for the offered totals."""
    totals = selectors.version_totals(quote.latest_version_id for quote in quotes)
    return [
        Row(
            quote,
            quote.status_for(side),
            totals.get(quote.latest_version_id),
            waiting_for(now - quote.updated_at),
            _last_move(quote, side),
            quote.latest_valid_until if quote.status in (Status.OFFERED, Status.EXPIRED) else None,
        )
        for quote in quotes
    ]


@require_GET
@quote_reader_required
def quote_list(request: AuthenticatedRequest) -> HttpResponse:
    side = _side(request)
    quotes = selectors.quote_list_summarised(selectors.quote_list_for_user(user=request.user), side=side)
    page = Paginator(quotes.order_by("-updated_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": _rows(list(page.object_list), timezone.now(), side),
        "is_member": user_membership(request.user) is not None,
        "can_request": _can_buy(request),
        "live": _poller(request, None),
    }
    template = "quotes/list.html#quote-table" if request.htmx else "quotes/list.html"
    return render(request, template, context)


@require_GET
@staff_role_required(*SELLERS)
def quote_queue(request: AuthenticatedRequest) -> HttpResponse:
    """The quotes waiting for the seller, the longest waiting first, with how long."""
    quotes = selectors.quote_list_summarised(
        selectors.quote_queue_for_manager(user=request.user), side=Side.SELLER
    )
    page = Paginator(quotes, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": _rows(list(page.object_list), timezone.now(), Side.SELLER),
        "live": _poller(request, None),
    }
    template = "quotes/queue.html#queue-table" if request.htmx else "quotes/queue.html"
    return render(request, template, context)


# --- Asking ---------------------------------------------------------------------------------------------


def _can_buy(request: HttpRequest) -> bool:
    membership = user_membership(request.user)
    return membership is not None and membership.role in BUYERS


@require_http_methods(["GET", "POST"])
@company_role_required(*BUYERS)
def quote_request_new(request: MemberRequest) -> HttpResponse:
    """Ask for a quote for a few catalog lines."""
    company = request.membership.company
    form = RequestForm(request.POST or None, time_zone=services.company_time_zone(company))
    if request.method == "POST" and form.is_valid():
        try:
            quote = services.quote_request(
                company=company,
                buyer=request.user,
                message=form.cleaned_data["message"],
                wanted_date=form.cleaned_data["wanted_date"],
                lines=form.cleaned_data["lines"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Quote {quote.number} asked: your account manager is told.")
            return redirect("quote-detail", quote_id=quote.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "quotes/request.html", {"form": form}, status=status)


@require_POST
@company_role_required(*BUYERS)
def quote_from_draft(request: MemberRequest) -> HttpResponse:
    """Turn the draft order into a request for quote (the draft is withdrawn: the quote takes its place)."""
    company = request.membership.company
    form = FromDraftForm(request.POST, time_zone=services.company_time_zone(company))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("po-builder")
    draft = orders.purchase_order_draft_get(company=company, buyer=request.user)
    try:
        quote = services.quote_request(
            company=company,
            buyer=request.user,
            message=form.cleaned_data["message"],
            wanted_date=form.cleaned_data["wanted_date"],
            from_draft=draft,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("po-builder")
    messages.success(request, f"Your draft is now quote {quote.number}: your account manager is told.")
    return redirect("quote-detail", quote_id=quote.pk)


@require_http_methods(["GET", "POST"])
@staff_role_required(*SELLERS)
def quote_start(request: AuthenticatedRequest) -> HttpResponse:
    """An account manager starts a quote (a draft only the seller sees) for a company they manage."""
    companies = company_list_for_staff(user=request.user)
    if StaffRole.ADMIN not in _roles(request):
        companies = companies.filter(account_manager_id=request.user.pk)
    form = StartForm(request.POST or None, companies=companies, time_zone=settings.TIME_ZONE)
    if request.method == "POST" and form.is_valid():
        try:
            quote = services.quote_start(
                company=form.cleaned_data["company"],
                manager=request.user,
                lines=form.cleaned_data["lines"],
                message=form.cleaned_data["message"],
                wanted_date=form.cleaned_data["wanted_date"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Quote {quote.number} started; offer your prices below.")
            return redirect("quote-detail", quote_id=quote.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "quotes/start.html", {"form": form}, status=status)


def _roles(request: HttpRequest) -> frozenset[StaffRole]:
    return user_staff_roles(request.user)


# --- The quote page -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionLine:
    line: QuoteLine
    amount: Decimal
    cost: Decimal | None  # the ERP's cost when offered; seller side only
    margin: str  # "25%" of the unit price over that cost; seller side only ("" without a cost)
    discount: str  # "12.5%" below the company's own price (its lowest price, breaks included); seller only


@dataclass(frozen=True)
class VersionView:
    version: QuoteVersion
    lines: list[VersionLine]
    total: Decimal


def _versions(quote: Quote, seller: bool) -> list[VersionView]:
    """The versions the reader may see (a buyer's selector leaves out one waiting for approval)."""
    views = []
    for version in quote.versions.all():
        lines = []
        for line in version.lines.all():
            margin = line.margin if seller else None
            lines.append(
                VersionLine(
                    line,
                    quantize_amount(line.unit_price * line.quantity),
                    line.cost_price if seller else None,
                    pricing.percent_text(margin) if margin is not None else "",
                    pricing.percent_text(line.discount) if seller else "",
                )
            )
        views.append(
            VersionView(version, lines, quantize_amount(sum((row.amount for row in lines), Decimal("0"))))
        )
    return views


@dataclass(frozen=True)
class OfferRow:
    product: Product
    reference: PriceQuote
    quantity: Any  # bound fields of the offer form
    price: Any
    breaks: list[tuple[Any, Any]]


def _offer_form(quote: Quote, versions: list[VersionView], data: Any = None) -> OfferForm:
    """The seller's offer form: the last version's lines (a counter answered), then any requested product
    it left out, else what was asked."""
    initial: dict[str, Any] = {}
    if versions:
        products = [row.line.product for row in versions[-1].lines]
        offered = {product.pk for product in products}
        for line in quote.request_lines.all():
            if line.product_id not in offered:
                products.append(line.product)
                initial[f"quantity_{line.product_id}"] = line.quantity.normalize()
        for row in versions[-1].lines:
            pk = row.line.product_id
            initial[f"quantity_{pk}"] = row.line.quantity.normalize()
            initial[f"price_{pk}"] = row.line.unit_price
            for n, step in enumerate(list(row.line.breaks.all())[:BREAK_ROWS], start=1):
                initial[f"break_quantity_{pk}_{n}"] = step.min_quantity.normalize()
                initial[f"break_price_{pk}_{n}"] = step.unit_price
        initial["note"] = ""
    else:
        products = [line.product for line in quote.request_lines.all()]
        for line in quote.request_lines.all():
            initial[f"quantity_{line.product_id}"] = line.quantity.normalize()
    return OfferForm(data, products=products, time_zone=quote.time_zone, initial=initial)


def _offer_rows(quote: Quote, form: OfferForm) -> list[OfferRow]:
    quantities = {}
    for product in form.products:  # the typed quantity prices the row; one unit while it is not a quantity
        try:
            typed = Decimal(str(form[f"quantity_{product.pk}"].value()))
        except ArithmeticError:
            typed = Decimal("1")
        quantities[product.pk] = typed if typed.is_finite() and 0 < typed <= MAX_QUANTITY else Decimal("1")
    references = price_resolve_many(
        account=quote.company,
        products=form.products,
        quantity=quantities,
        on_date=services.local_today(quote.time_zone, timezone.now()),
    )
    return [
        OfferRow(
            product,
            references[product.pk],
            form[f"quantity_{product.pk}"],
            form[f"price_{product.pk}"],
            [
                (form[f"break_quantity_{product.pk}_{n}"], form[f"break_price_{product.pk}_{n}"])
                for n in range(1, BREAK_ROWS + 1)
            ],
        )
        for product in form.products
    ]


def quote_erp_sync(quote: Quote) -> dict[str, Any]:
    """The ERP section of the quote page (``quotes/_erp.html``): the quote's badge ``state``, its
    timeline ``events`` (its order's too once ordered) and whether the ERP keeps quotations at all."""
    context = selectors.quote_sync_context(quote)
    return {
        "state": context["sync_state"],
        "events": context["events"],
        "erp_keeps_quotes": context["erp_keeps_quotes"],
    }


@dataclass(frozen=True)
class ThreadRow:
    """A thread row with its move as the reader's side sees it (the buyer's selector already leaves out
    the seller's own rows)."""

    event: QuoteEvent
    side: Side

    @property
    def from_label(self) -> str:
        status = self.event.from_status_for(self.side)
        return status.label if status else ""

    @property
    def to_label(self) -> str:
        status = self.event.to_status_for(self.side)
        return status.label if status else ""


def _side(request: AuthenticatedRequest) -> Side:
    return Side.BUYER if user_membership(request.user) is not None else Side.SELLER


def _detail_context(request: AuthenticatedRequest, quote: Quote, **forms: Any) -> dict[str, Any]:
    side = _side(request)
    seller = side == Side.SELLER
    membership: Membership | None = user_membership(request.user)
    can_buy = membership is not None and membership.role in BUYERS
    versions = _versions(quote, seller)
    context: dict[str, Any] = {
        "quote": quote,
        "shown_status": quote.status_for(side),
        "side": side,
        "seller": seller,
        "can_buy": can_buy,
        "my_turn": quote.turn == side and (seller or can_buy),
        "versions": versions,
        "current": versions[-1] if versions else None,
        "events": [ThreadRow(event, side) for event in quote.events.all()],
        "request_lines": list(quote.request_lines.all()),
        "order": quote.purchase_order,
        "erp_sync": quote_erp_sync(quote),
        "live": _poller(request, quote.pk),
        "polling": not quote.is_final
        or (quote.purchase_order is not None and not quote.purchase_order.is_final),
    }
    if can_buy and quote.status == Status.OFFERED:
        context["accept_form"] = forms.get("accept_form") or AcceptForm(company=quote.company)
        context["counter_form"] = forms.get("counter_form") or CounterForm()
        context["close_form"] = forms.get("close_form") or CloseForm()
    if can_buy and quote.status == Status.SUBMITTED:
        context["edit_form"] = forms.get("edit_form") or RequestForm(
            time_zone=quote.time_zone,
            initial={
                "lines": "\n".join(
                    f"{line.product.sku} {line.quantity.normalize():f}"
                    + (f" {line.note}" if line.note else "")
                    for line in context["request_lines"]
                ),
                "message": quote.message,
                "wanted_date": quote.wanted_date,
            },
        )
    if seller and quote.status == Status.AWAITING_APPROVAL:
        context["my_turn"] = False  # an approver's move
        context["is_quote_approver"] = selectors.user_is_quote_approver(user=request.user)
    if seller and (quote.turn == Side.SELLER or quote.status == Status.OFFERED):
        context["decline_form"] = forms.get("decline_form") or DeclineForm()
    if seller and quote.status in (Status.DRAFT, Status.IN_REVIEW):
        offer_form = forms.get("offer_form") or _offer_form(quote, versions)
        context["offer_form"] = offer_form
        context["offer_rows"] = _offer_rows(quote, offer_form)
        context["approval_percent"] = settings.QUOTE_DISCOUNT_APPROVAL_PERCENT
    return context


@require_GET
@quote_reader_required
def quote_detail(request: AuthenticatedRequest, quote_id: int) -> HttpResponse:
    quote = _quote_or_404(request, quote_id)
    template = "quotes/detail.html#live" if request.htmx else "quotes/detail.html"
    return render(request, template, _detail_context(request, quote))


def _page_with_errors(request: AuthenticatedRequest, quote: Quote, **forms: Any) -> HttpResponse:
    messages.error(request, "Nothing was changed: see the form below.")
    quote = _quote_or_404(request, quote.pk)  # as it is now (an expiry may have been recorded)
    return render(request, "quotes/detail.html", _detail_context(request, quote, **forms), status=400)


def _done(request: HttpRequest, quote: Quote, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect("quote-detail", quote_id=quote.pk)


def _refused(request: HttpRequest, quote: Quote, exc: ApplicationError) -> HttpResponse:
    messages.error(request, exc.message)
    return redirect("quote-detail", quote_id=quote.pk)


@require_POST
@company_role_required(*BUYERS)
def quote_edit(request: MemberRequest, quote_id: int) -> HttpResponse:
    quote = _quote_or_404(request, quote_id)
    form = RequestForm(request.POST, time_zone=quote.time_zone)
    if not form.is_valid():
        return _page_with_errors(request, quote, edit_form=form)
    try:
        services.quote_request_edit(
            quote=quote,
            actor=request.user,
            lines=form.cleaned_data["lines"],
            message=form.cleaned_data["message"],
            wanted_date=form.cleaned_data["wanted_date"],
        )
    except ApplicationError as exc:
        return _refused(request, quote, exc)
    return _done(request, quote, "Your request is changed.")


@require_POST
@company_role_required(*BUYERS)
def quote_accept(request: MemberRequest, quote_id: int) -> HttpResponse:
    """Accept the offer: one order. A second click lands on the same order (the service returns the
    quote as it is once ordered)."""
    quote = _quote_or_404(request, quote_id)
    if quote.status == Status.ORDERED and quote.purchase_order is not None:
        messages.info(request, f"Quote {quote.number} is already accepted: here is its order.")
        return redirect("po-detail", order_id=quote.purchase_order.pk)
    form = AcceptForm(request.POST, company=quote.company)
    if not form.is_valid():
        return _page_with_errors(request, quote, accept_form=form)
    try:
        quote = services.quote_accept(
            quote=quote,
            actor=request.user,
            customer_po_number=form.cleaned_data["customer_po_number"],
            ship_to=form.cleaned_data["ship_to"],
        )
    except ApplicationError as exc:
        return _refused(request, quote, exc)
    order = quote.purchase_order
    if order is None:  # pragma: no cover - an ordered quote always has its order
        return redirect("quote-detail", quote_id=quote.pk)
    messages.success(
        request,
        f"Quote {quote.number} accepted: order {order.customer_po_number} is "
        f"{order.get_status_display().lower()}.",
    )
    return redirect("quote-detail", quote_id=quote.pk)


@require_POST
@company_role_required(*BUYERS)
def quote_counter(request: MemberRequest, quote_id: int) -> HttpResponse:
    quote = _quote_or_404(request, quote_id)
    form = CounterForm(request.POST)
    if not form.is_valid():
        return _page_with_errors(request, quote, counter_form=form)
    try:
        services.quote_counter(quote=quote, actor=request.user, message=form.cleaned_data["message"])
    except ApplicationError as exc:
        return _refused(request, quote, exc)
    return _done(request, quote, "Your answer is sent: your account manager makes the next offer.")


@require_POST
@company_role_required(*BUYERS)
def quote_close(request: MemberRequest, quote_id: int) -> HttpResponse:
    quote = _quote_or_404(request, quote_id)
    form = CloseForm(request.POST)
    form.is_valid()
    try:
        services.quote_close(quote=quote, actor=request.user, message=form.cleaned_data.get("message", ""))
    except ApplicationError as exc:
        return _refused(request, quote, exc)
    return _done(request, quote, f"Quote {quote.number} closed.")


@require_POST
@staff_role_required(*SELLERS)
def quote_review(request: AuthenticatedRequest, quote_id: int) -> HttpResponse:
    quote = _quote_or_404(request, quote_id)
    try:
        services.quote_review(quote=quote, actor=request.user)
    except ApplicationError as exc:
        return _refused(request, quote, exc)
    return _done(request, quote, f"Quote {quote.number} is yours: the buyer can no longer change it.")


@require_POST
@staff_role_required(*SELLERS)
def quote_decline(request: AuthenticatedRequest, quote_id: int) -> HttpResponse:
    quote = _quote_or_404(request, quote_id)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        return _page_with_errors(request, quote, decline_form=form)
    try:
        services.quote_decline(quote=quote, actor=request.user, message=form.cleaned_data["message"])
    except ApplicationError as exc:
        return _refused(request, quote, exc)
    return _done(request, quote, f"Quote {quote.number} declined; the buyer is told.")


@require_POST
@staff_role_required(*SELLERS)
def quote_offer(request: AuthenticatedRequest, quote_id: int) -> HttpResponse:
    quote = _quote_or_404(request, quote_id)
    if quote.status not in (Status.DRAFT, Status.IN_REVIEW):
        return _refused(
            request,
            quote,
            ApplicationError(f"Quote {quote.number} is {quote.get_status_display().lower()}: no offer now."),
        )
    form = _offer_form(quote, _versions(quote, seller=True), data=request.POST)
    if not form.is_valid():
        return _page_with_errors(request, quote, offer_form=form)
    try:
        version = services.quote_offer(
            quote=quote,
            actor=request.user,
            lines=form.offered_lines(),
            valid_until=form.cleaned_data["valid_until"],
            note=form.cleaned_data["note"],
        )
    except ApplicationError as exc:
        form.add_error(None, exc.message)
        return _page_with_errors(request, quote, offer_form=form)
    return _done(request, quote, f"Version {version.number} offered; the buyer is told.")


# --- The second approval: the approvers' queue and their decision --------------------------------------


def _quote_approver(request: HttpRequest) -> None:
    if not selectors.user_is_quote_approver(user=request.user):  # type: ignore[arg-type]
        raise PermissionDenied(
            "Offers that wait for a second approval are for portal admins and quote approvers."
        )


@require_GET
@login_required
def approval_queue(request: HttpRequest) -> HttpResponse:
    _quote_approver(request)
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
    _quote_approver(request)
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
