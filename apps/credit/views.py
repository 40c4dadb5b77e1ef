"""Credit pages: the buyer's invoices, finance's live credit-hold queue, hold and account details."""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import selectors as account_selectors
from apps.accounts import services as account_services
from apps.accounts.exceptions import MembershipError
from apps.accounts.models import Company, Role, StaffRole
from apps.accounts.permissions import MemberRequest, company_role_required, staff_role_required
from apps.core.http import AuthenticatedRequest
from apps.core.staff import staff_allowed
from apps.credit import erp as credit_erp
from apps.credit import selectors, services, statements
from apps.credit.exceptions import CreditError
from apps.credit.forms import (
    RELEASE,
    BulkDecisionForm,
    HoldDecisionForm,
    HoldForm,
    StatementForm,
    ToleranceForm,
)
from apps.credit.models import CreditAccount, CreditHold, Invoice
from apps.credit.statement_pdf import statement_pdf
from apps.erp.connectors.base import ErpError
from apps.purchase_orders import adding

REORDERERS = (Role.BUYER, Role.ADMIN)  # who builds orders: the draft builder's roles
INVOICE_PAGE_SIZE = 50
INVOICE_FILTERS = [("", "All"), ("open", "Open"), ("paid", "Paid"), ("draft", "Draft")]


def _invoice_state(request: AuthenticatedRequest) -> str:
    """The invoice filter asked for; anything unknown shows all."""
    state = request.GET.get("state", "")
    return state if state in dict(INVOICE_FILTERS) else ""


# --- Buyers ------------------------------------------------------------------------------------------------


@require_GET
@company_role_required()
def invoices(request: MemberRequest) -> HttpResponse:
    """The company's invoices from the ERP with their aging, and its credit."""
    company = request.membership.company
    state = _invoice_state(request)
    rows = selectors.invoice_list(company=company, state=state).prefetch_related("purchase_orders")
    page = Paginator(rows, INVOICE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "credit/invoices.html",
        {
            "company": company,
            "position": selectors.credit_position_get(company=company),
            "page": page,
            "state": state,
            "filters": INVOICE_FILTERS,
            "today": timezone.localdate(),
            "statement_form": _statement_form_initial(company),
            "document_url": "buyer-invoice-document" if credit_erp.invoice_documents_offered() else "",
        },
    )


def _invoice_document(request: AuthenticatedRequest, invoice: Invoice, back_url: str) -> HttpResponse:
    """The ERP's own document of the invoice; when the ERP cannot give it, back with the reason."""
    try:
        document = credit_erp.invoice_document_get(invoice=invoice)
    except ErpError as exc:
        messages.error(request, f"The ERP could not give invoice {invoice}'s document: {exc.message}")
        return redirect(back_url)
    response = HttpResponse(document.content, content_type=document.content_type)
    response["Content-Disposition"] = content_disposition_header(True, document.filename)
    return response


def _invoice_or_404(request: MemberRequest, invoice_id: int) -> Invoice:
    try:
        return selectors.invoice_get(company=request.membership.company, invoice_id=invoice_id)
    except Invoice.DoesNotExist as exc:
        raise Http404("No such invoice in your company.") from exc


@require_GET
@company_role_required()
def buyer_invoice_document(request: MemberRequest, invoice_id: int) -> HttpResponse:
    try:
        invoice = Invoice.objects.get(pk=invoice_id, company=request.membership.company)
    except Invoice.DoesNotExist as exc:
        raise Http404("No such invoice.") from exc
    return _invoice_document(request, invoice, reverse("buyer-invoices"))


@require_GET
@staff_role_required(StaffRole.FINANCE, StaffRole.ACCOUNT_MANAGER)
def staff_invoice_document(request: AuthenticatedRequest, invoice_id: int) -> HttpResponse:
    """Finance and admins for any company's invoice, account managers for their companies' (else 404)."""
    companies = account_selectors.company_list_for_staff(user=request.user)
    try:
        invoice = Invoice.objects.get(pk=invoice_id, company__in=companies.values("pk"))
    except Invoice.DoesNotExist as exc:
        raise Http404("No such invoice.") from exc
    if staff_allowed(request.user, (StaffRole.FINANCE,)):
        back_url = reverse("finance-company-credit", args=[invoice.company_id])
    else:
        back_url = reverse("manager-company-detail", args=[invoice.company_id])
    return _invoice_document(request, invoice, back_url)


# --- Statements of account ---------------------------------------------------------------------------------


def _statement_form_initial(company: Company) -> StatementForm:
    start, end = statements.last_full_month(statements.company_today(company))
    return StatementForm(initial={"start": start, "end": end})


def _statement(request: AuthenticatedRequest, company: Company, back_url: str) -> HttpResponse:
    """The PDF for the period asked for; without one, or with a bad one, the form (with its errors)."""
    if "start" not in request.GET and "end" not in request.GET:
        form = _statement_form_initial(company)
    else:
        form = StatementForm(request.GET)
        if form.is_valid():
            statement = statements.statement_get(
                company=company, start=form.cleaned_data["start"], end=form.cleaned_data["end"]
            )
            response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
            response["Content-Disposition"] = content_disposition_header(True, statement.filename)
            return response
    return render(
        request,
        "credit/statement_form.html",
        {"company": company, "statement_form": form, "back_url": back_url},
        status=400 if form.is_bound else 200,
    )


@require_GET
@company_role_required()
def buyer_statement(request: MemberRequest) -> HttpResponse:
    """Any member of the company (admin, buyer, approver, viewer) reads its statement of account."""
    return _statement(request, request.membership.company, reverse("buyer-invoices"))


@require_GET
@staff_role_required(StaffRole.FINANCE, StaffRole.ACCOUNT_MANAGER)
def company_statement(request: AuthenticatedRequest, company_id: int) -> HttpResponse:
    """Finance and portal admins for any company, account managers for their own (else 404)."""
    company = _finance_company(request, company_id)
    if staff_allowed(request.user, (StaffRole.FINANCE,)):
        back_url = reverse("finance-company-credit", args=[company.pk])
    else:
        back_url = reverse("manager-company-detail", args=[company.pk])
    return _statement(request, company, back_url)


@require_GET
@company_role_required()
def invoice_detail(request: MemberRequest, invoice_id: int) -> HttpResponse:
    """One invoice as the ERP has it, with its lines; buyers can reorder them."""
    invoice = _invoice_or_404(request, invoice_id)
    return render(
        request,
        "credit/invoice_detail.html",
        {
            "invoice": invoice,
            "lines": selectors.invoice_lines(invoice=invoice),
            "today": timezone.localdate(),
            "can_reorder": request.membership.role in REORDERERS,
            "document_url": "buyer-invoice-document" if credit_erp.invoice_documents_offered() else "",
        },
    )


@require_POST
@company_role_required(*REORDERERS)
def invoice_reorder(request: MemberRequest, invoice_id: int) -> HttpResponse:
    """The invoice's lines to the buyer's draft, matched to products by SKU and each re-checked as of
    now; a line without a product or with an unknown SKU is refused with why. The report is shown on the
    draft."""
    invoice = _invoice_or_404(request, invoice_id)
    source = f"invoice {invoice.number or invoice.erp_id}"
    report = adding.draft_lines_add_checked(
        company=request.membership.company,
        buyer=request.user,
        lines=[
            adding.WantedLine(None, line.sku, line.quantity, "", line.unit_price, source, line.description)
            for line in selectors.invoice_lines(invoice=invoice)
        ],
    )
    if not report.lines:
        messages.error(request, f"Invoice {invoice} has no lines to reorder.")
        return redirect("buyer-invoice", invoice_id=invoice.pk)
    messages.add_message(request, report.level, report.summary)
    adding.report_stash(request.session, report)
    return redirect("po-builder")


# --- Finance -----------------------------------------------------------------------------------------------


@require_GET
@staff_role_required(StaffRole.FINANCE)
def finance_home(request: AuthenticatedRequest) -> HttpResponse:
    companies = list(account_selectors.company_list_for_staff(user=request.user).order_by("-status", "name"))
    return render(
        request,
        "credit/finance_home.html",
        {
            "companies": companies,
            "positions": selectors.credit_positions(company_ids=[company.pk for company in companies]),
            "open_holds": selectors.credit_hold_queue().count(),
            "hold_form": HoldForm(),
        },
    )


def _finance_row(request: AuthenticatedRequest, company: Company, error: str = "") -> HttpResponse:
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("finance-home")
    return render(
        request,
        "credit/finance_home.html#company-row",
        {
            "company": company,
            "positions": selectors.credit_positions(company_ids=[company.pk]),
            "hold_form": HoldForm(),
            "row_error": error,
        },
    )


@require_POST
@staff_role_required(StaffRole.FINANCE)
def finance_company_hold(request: AuthenticatedRequest, company_id: int) -> HttpResponse:
    """Finance puts a whole company on hold (the company's own hold service, shared with the ERP sync)."""
    company = _finance_company(request, company_id)
    form = HoldForm(request.POST)
    if not form.is_valid():
        return _finance_row(request, company, "Give a reason for the hold; buyers will see it.")
    try:
        account_services.company_hold_put(company=company, reason=form.cleaned_data["reason"])
    except MembershipError as exc:
        return _finance_row(request, company, exc.message)
    messages.success(request, f"{company.name} is on hold.")
    return _finance_row(request, company)


@require_POST
@staff_role_required(StaffRole.FINANCE)
def finance_company_release(request: AuthenticatedRequest, company_id: int) -> HttpResponse:
    company = _finance_company(request, company_id)
    try:
        account_services.company_hold_lift(company=company)
    except MembershipError as exc:
        return _finance_row(request, company, exc.message)
    messages.success(request, f"{company.name} is active again.")
    return _finance_row(request, company)


def _queue_context(request: AuthenticatedRequest, **extra: object) -> dict[str, object]:
    holds = list(selectors.credit_hold_queue())
    positions = selectors.credit_positions(company_ids={hold.company_id for hold in holds})
    version = hashlib.sha256(
        ",".join(f"{hold.pk}:{hold.updated_at.timestamp()}" for hold in holds).encode()
    ).hexdigest()[:16]
    return {
        "rows": [(hold, positions[hold.company_id]) for hold in holds],
        "version": version,
        "decided": selectors.credit_hold_decided(),
        **extra,
    }


@require_GET
@staff_role_required(StaffRole.FINANCE)
def hold_queue(request: AuthenticatedRequest) -> HttpResponse:
    context = _queue_context(request)
    if request.htmx:
        if request.GET.get("v") == context["version"]:
            return HttpResponse(status=204)  # nothing new: htmx keeps the page as it is
        return render(request, "credit/hold_queue.html#queue", context)
    return render(request, "credit/hold_queue.html", context)


def _queue_response(request: AuthenticatedRequest, **extra: object) -> HttpResponse:
    if request.htmx:
        return render(request, "credit/hold_queue.html#queue", _queue_context(request, **extra))
    return redirect("finance-holds")


def _hold_or_404(hold_id: int) -> CreditHold:
    try:
        return CreditHold.objects.select_related(
            "company", "purchase_order", "purchase_order__submitted_by", "decided_by"
        ).get(pk=hold_id)
    except CreditHold.DoesNotExist as exc:
        raise Http404("No such credit hold.") from exc


def _form_error(form: HoldDecisionForm) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _decide(request: AuthenticatedRequest, hold: CreditHold, form: HoldDecisionForm) -> str:
    """Run the decision; '' or the reason it was refused."""
    data = form.cleaned_data
    try:
        if data["decision"] == RELEASE:
            services.credit_hold_release(hold=hold, actor=request.user, note=data["reason"])
            messages.success(request, f"Order {hold.purchase_order.customer_po_number} released.")
        else:
            services.credit_hold_reject(hold=hold, actor=request.user, note=data["reason"])
            messages.success(request, f"Order {hold.purchase_order.customer_po_number} rejected.")
    except CreditError as exc:
        return exc.message
    return ""


@require_POST
@staff_role_required(StaffRole.FINANCE)
def hold_decide(request: AuthenticatedRequest, hold_id: int) -> HttpResponse:
    hold = _hold_or_404(hold_id)
    form = HoldDecisionForm(request.POST)
    error = "" if form.is_valid() else _form_error(form)
    if not error:
        error = _decide(request, hold, form)
    if request.POST.get("from") == "detail":
        if error:
            messages.error(request, error)
        return redirect("finance-hold-detail", hold_id=hold.pk)
    if error:
        if not request.htmx:
            messages.error(request, error)
        return _queue_response(request, row_errors={hold.pk: error})
    return _queue_response(request)


@require_POST
@staff_role_required(StaffRole.FINANCE)
def hold_bulk(request: AuthenticatedRequest) -> HttpResponse:
    open_ids = list(selectors.credit_hold_queue().values_list("pk", flat=True))
    form = BulkDecisionForm(request.POST, hold_ids=open_ids)
    if not form.is_valid():
        error = _form_error(form)
        if not request.htmx:
            messages.error(request, error)
        return _queue_response(request, bulk_error=error)
    data = form.cleaned_data
    try:
        outcome = services.credit_holds_decide(
            hold_ids=data["hold"],
            actor=request.user,
            release=data["decision"] == RELEASE,
            note=data["reason"],
        )
    except CreditError as exc:
        return _queue_response(request, bulk_error=exc.message)
    verb = "released" if data["decision"] == RELEASE else "rejected"
    messages.success(
        request, f"{len(outcome.decided)} order{'s' if len(outcome.decided) != 1 else ''} {verb}."
    )
    for _, why in outcome.refused:
        messages.warning(request, why)
    return _queue_response(request)


@require_GET
@staff_role_required(StaffRole.FINANCE)
def hold_detail(request: AuthenticatedRequest, hold_id: int) -> HttpResponse:
    hold = _hold_or_404(hold_id)
    order = hold.purchase_order
    return render(
        request,
        "credit/hold_detail.html",
        {
            "hold": hold,
            "order": order,
            "lines": order.lines.select_related("product"),
            "history": order.status_changes.select_related("actor"),
            "position": selectors.credit_position_get(company=hold.company),
            "open_invoices": selectors.invoice_list(company=hold.company, state="open")[:50],
            "other_holds": CreditHold.objects.filter(company=hold.company)
            .exclude(pk=hold.pk)
            .select_related("purchase_order", "decided_by")
            .order_by("-created_at")[:10],
            "today": timezone.localdate(),
        },
    )


def _finance_company(request: AuthenticatedRequest, company_id: int) -> Company:
    try:
        return account_selectors.company_get_for_staff(user=request.user, company_id=company_id)
    except Company.DoesNotExist as exc:
        raise Http404("No such account.") from exc


def _company_credit_page(
    request: AuthenticatedRequest, company: Company, form: ToleranceForm | None = None
) -> HttpResponse:
    state = _invoice_state(request)
    account = CreditAccount.objects.select_related("payment_term").filter(company=company).first()
    rows = selectors.invoice_list(company=company, state=state).prefetch_related("purchase_orders")
    return render(
        request,
        "credit/company_credit.html",
        {
            "company": company,
            "account": account,
            "position": selectors.credit_position_get(company=company),
            "page": Paginator(rows, INVOICE_PAGE_SIZE).get_page(request.GET.get("page")),
            "state": state,
            "filters": INVOICE_FILTERS,
            "holds": CreditHold.objects.filter(company=company)
            .select_related("purchase_order", "decided_by")
            .order_by(F("decided_at").desc(nulls_first=True), "-created_at")[:20],
            "tolerance_form": form or ToleranceForm(instance=account),
            "statement_form": _statement_form_initial(company),
            "document_url": "staff-invoice-document" if credit_erp.invoice_documents_offered() else "",
            "today": timezone.localdate(),
        },
        status=400 if form is not None else 200,
    )


@require_GET
@staff_role_required(StaffRole.FINANCE)
def company_credit(request: AuthenticatedRequest, company_id: int) -> HttpResponse:
    return _company_credit_page(request, _finance_company(request, company_id))


@require_POST
@staff_role_required(StaffRole.FINANCE)
def company_tolerance(request: AuthenticatedRequest, company_id: int) -> HttpResponse:
    company = _finance_company(request, company_id)
    account = CreditAccount.objects.filter(company=company).first()
    if account is None:
        messages.error(request, f"{company.name} has no credit account from the ERP yet.")
        return redirect("finance-company-credit", company_id=company.pk)
    form = ToleranceForm(request.POST, instance=account)
    if not form.is_valid():
        return _company_credit_page(request, company, form)
    services.credit_account_tolerance_set(account=account, days=form.cleaned_data["past_due_tolerance_days"])
    messages.success(request, f"Past-due tolerance of {company.name} saved.")
    return redirect("finance-company-credit", company_id=company.pk)
