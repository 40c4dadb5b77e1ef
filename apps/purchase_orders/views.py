from __future__ import annotations

import csv
from decimal import Decimal

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from apps.accounts.models import Role
from apps.accounts.permissions import MemberRequest, company_role_required
from apps.core import csvexport
from apps.core.exceptions import ApplicationError
from apps.core.money import quantize_amount
from apps.erp.selectors import timeline_for
from apps.erp.services import capabilities_get
from apps.pricing.selectors import price_resolve_many
from apps.purchase_orders import adding, selectors, services
from apps.purchase_orders import lines as parsing
from apps.purchase_orders.exceptions import LineNotFound, PurchaseOrderError
from apps.purchase_orders.forms import CsvForm, HeaderForm, QuickOrderForm
from apps.purchase_orders.models import LineImport, PurchaseOrder
from apps.purchase_orders.quantities import parse_quantity

BUILDERS = (Role.BUYER, Role.ADMIN)


def _draft(request: MemberRequest) -> PurchaseOrder:
    return services.purchase_order_draft_get(company=request.membership.company, buyer=request.user)


def _builder_context(request: MemberRequest, order: PurchaseOrder, **extra: object) -> dict[str, object]:
    lines = list(order.lines.select_related("product", "product__stock"))
    quotes = price_resolve_many(
        account=order.company,
        products=[line.product for line in lines],
        quantity={line.product_id: line.quantity for line in lines},
    )
    priced = [
        (line, quotes[line.product_id], quantize_amount(quotes[line.product_id].unit_price * line.quantity))
        for line in lines
    ]
    total = sum((amount for _, _, amount in priced), Decimal("0"))
    return {
        "order": order,  # the credit meter is credit's template tag, given the company and the estimate
        "imports": order.line_imports.exclude(status=LineImport.Status.DONE),
        "priced": priced,
        "estimate": quantize_amount(total),
        "header_form": extra.pop("header_form", None) or HeaderForm(instance=order, company=order.company),
        "quick_form": QuickOrderForm(),
        "csv_form": CsvForm(),
        **extra,
    }


@require_GET
@company_role_required(*BUILDERS)
def builder(request: MemberRequest) -> HttpResponse:
    context = _builder_context(request, _draft(request), add_report=adding.report_unstash(request.session))
    return render(request, "purchase_orders/builder.html", context)


@require_POST
@company_role_required(*BUILDERS)
def builder_header(request: MemberRequest) -> HttpResponse:
    order = _draft(request)
    form = HeaderForm(request.POST, instance=order, company=order.company)
    saved = form.is_valid()
    if saved:
        try:
            order = services.purchase_order_header_update(
                purchase_order=order, **{name: form.cleaned_data[name] for name in services.HEADER_FIELDS}
            )
        except PurchaseOrderError as exc:
            form.add_error(None, exc.message)
            saved = False
        else:
            messages.success(request, "Order details saved.")
    context = _builder_context(request, order, header_form=form)
    if request.htmx:
        return render(request, "purchase_orders/builder.html#header", context)
    return render(request, "purchase_orders/builder.html", context, status=200 if saved else 400)


def _add(request: MemberRequest, parsed: parsing.Parsed) -> HttpResponse:
    if parsed.error:
        return _refused(request, parsed.error)
    order = _draft(request)
    result = services.purchase_order_lines_add(purchase_order=order, lines=parsed.lines)
    entries = [*parsed.report, *result.report]
    refused = sum(entry.count for entry in entries if not entry.ok)
    text = f"{result.added} line(s) added, {result.merged} merged, {refused} refused."
    if not refused:
        messages.success(request, text)
    elif result.added or result.merged:
        messages.warning(request, f"{text} See the report below.")
    else:
        messages.error(request, f"Nothing added: {refused} line(s) refused; see the report below.")
    context = _builder_context(request, order, report=parsing.report_summarise(entries))
    template = "purchase_orders/builder.html#lines" if request.htmx else "purchase_orders/builder.html"
    return render(request, template, context)


def _refused(request: MemberRequest, message: str) -> HttpResponse:
    """Nothing added (an empty paste, a file that cannot be read): an error that says why. Under htmx the
    lines fragment stays (a redirect would put a page in it)."""
    messages.error(request, message)
    if request.htmx:
        return render(
            request, "purchase_orders/builder.html#lines", _builder_context(request, _draft(request))
        )
    return redirect("po-builder")


@require_POST
@company_role_required(*BUILDERS)
def builder_quick(request: MemberRequest) -> HttpResponse:
    form = QuickOrderForm(request.POST)
    if not form.is_valid():
        return _refused(request, "Paste at least one line: a SKU and a quantity.")
    return _add(request, parsing.parse_paste(form.cleaned_data["lines"]))


@require_POST
@company_role_required(*BUILDERS)
def builder_csv(request: MemberRequest) -> HttpResponse:
    """An order file (CSV, text or .xlsx): up to ``INLINE_LIMIT`` lines while the buyer waits, more in the
    background; a file that cannot be read at all is an error, with nothing added."""
    form = CsvForm(request.POST, request.FILES)
    if not form.is_valid():
        errors = form.errors.get("file") or ["Choose a file to upload."]
        return _refused(request, " ".join(str(error) for error in errors))
    upload = form.cleaned_data["file"]
    parsed = parsing.parse_upload(upload.read())
    if parsed.error:
        return _refused(request, f"{upload.name}: {parsed.error}")
    if len(parsed.lines) <= services.INLINE_LIMIT:
        return _add(request, parsed)
    job = services.line_import_start(purchase_order=_draft(request), filename=upload.name, parsed=parsed)
    if request.htmx:
        response = render(request, "purchase_orders/builder.html#import", {"job": job})
        return reswap(retarget(response, "#imports"), "afterbegin")
    return redirect("po-builder")


@require_GET
@company_role_required(*BUILDERS)
def builder_import(request: MemberRequest, job_id: int) -> HttpResponse:
    """Progress of a large upload; when it is done the lines table reloads (``lines-changed``)."""
    job = LineImport.objects.filter(pk=job_id, purchase_order=_draft(request)).first()
    if job is None:
        raise Http404("No such upload on your draft.")
    response = render(request, "purchase_orders/builder.html#import", {"job": job})
    if job.status == LineImport.Status.DONE:
        response["HX-Trigger"] = "lines-changed"
    return response


@require_POST
@company_role_required(*BUILDERS)
def builder_add(request: MemberRequest) -> HttpResponse:
    """Add one SKU from the catalog (a number field: browsers send a decimal point)."""
    sku = request.POST.get("sku", "").strip().upper()
    order = _draft(request)
    try:
        quantity = parse_quantity(request.POST.get("quantity", "1"), decimal_mark=".")
    except ValueError as exc:
        report = [parsing.LineReport(1, False, f"{sku}: {exc}")]
    else:
        lines = [parsing.ParsedLine(1, sku, quantity, "")] if sku else []
        report = services.purchase_order_lines_add(purchase_order=order, lines=lines).report
    text = report[0].message if report else "Nothing to add."
    if report and report[0].ok:
        messages.success(request, text)
    else:
        messages.error(request, text)
    if request.htmx:
        return HttpResponse("")  # the flash message arrives out of band (HtmxMessagesMiddleware)
    return redirect("po-builder")


@require_GET
@company_role_required(*BUILDERS)
def builder_lines(request: MemberRequest) -> HttpResponse:
    return render(request, "purchase_orders/builder.html#lines", _builder_context(request, _draft(request)))


@require_POST
@company_role_required(*BUILDERS)
def builder_line(request: MemberRequest, line_id: int) -> HttpResponse:
    order = _draft(request)
    line = selectors.purchase_order_line_get(purchase_order=order, line_id=line_id)
    if line is None:
        raise Http404("No such line on your draft.")
    try:
        if request.POST.get("remove"):
            services.purchase_order_line_remove(purchase_order=order, line_id=line.pk)
        else:
            try:  # the box is a number field: browsers send a decimal point
                quantity = parse_quantity(request.POST.get("quantity", ""), decimal_mark=".")
            except ValueError as exc:
                messages.error(request, f"{line.product.sku}: {exc}.")
            else:
                services.purchase_order_line_update(purchase_order=order, line_id=line.pk, quantity=quantity)
    except LineNotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    template = "purchase_orders/builder.html#lines" if request.htmx else "purchase_orders/builder.html"
    return render(request, template, _builder_context(request, order))


@require_POST
@company_role_required(*BUILDERS)
def builder_submit(request: MemberRequest) -> HttpResponse:
    order = _draft(request)
    try:
        order = services.purchase_order_submit_and_route(purchase_order=order, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("po-builder")
    messages.success(
        request, f"Order {order.customer_po_number} submitted: {order.get_status_display().lower()}."
    )
    return redirect("po-detail", order_id=order.pk)


# --- Reading -----------------------------------------------------------------------------------------------


@require_GET
@company_role_required()
def order_list(request: MemberRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    orders = list(selectors.purchase_order_list(company=request.membership.company, status=status)[:200])
    context = {
        "orders": orders,
        "status": status,
        "statuses": PurchaseOrder.Status.choices,
        "live": any(not order.is_final for order in orders),
    }
    template = "purchase_orders/list.html#order-table" if request.htmx else "purchase_orders/list.html"
    return render(request, template, context)


def _order_or_404(request: MemberRequest, order_id: int) -> PurchaseOrder:
    try:
        return selectors.purchase_order_get(company=request.membership.company, order_id=order_id)
    except PurchaseOrder.DoesNotExist as exc:
        raise Http404("No such order in your company.") from exc


@require_GET
@company_role_required()
def order_detail(request: MemberRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    context = {
        "order": order,
        "lines": order.lines.select_related("product"),
        "history": order.status_changes.select_related("actor"),
        "approvals": order.approval_requests.select_related("decided_by"),
        "credit_hold": getattr(order, "credit_hold", None),  # joined by the selector
        "events": timeline_for(order),
        # An ERP that cannot confirm orders through its API: its people release the sale there.
        "erp_releases_orders": capabilities_get().order_confirm,
        "can_reorder": request.membership.role in BUILDERS and order.status != PurchaseOrder.Status.DRAFT,
        "can_cancel": request.membership.role in BUILDERS
        and order.can_transition_to(PurchaseOrder.Status.CANCELLED)
        and order.status not in (PurchaseOrder.Status.ACCEPTED, PurchaseOrder.Status.PARTIALLY_SHIPPED),
    }
    template = "purchase_orders/detail.html#live" if request.htmx else "purchase_orders/detail.html"
    return render(request, template, context)


@require_POST
@company_role_required(*BUILDERS)
def order_cancel(request: MemberRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    try:
        services.purchase_order_cancel(
            purchase_order=order, actor=request.user, note=request.POST.get("note", "")
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Order {order.customer_po_number} cancelled.")
    return redirect("po-detail", order_id=order.pk)


@require_POST
@company_role_required(*BUILDERS)
def order_reorder(request: MemberRequest, order_id: int) -> HttpResponse:
    """Every line of a past order to the buyer's draft, each re-checked as of now; the report (what was
    added, what was refused and why, what changed since) is shown on the draft."""
    order = _order_or_404(request, order_id)
    if order.status == PurchaseOrder.Status.DRAFT:
        messages.error(request, "A draft cannot be reordered: open it in the draft builder instead.")
        return redirect("po-detail", order_id=order.pk)
    source = f"order {order.customer_po_number or order.pk}"
    report = adding.draft_lines_add_checked(
        company=request.membership.company,
        buyer=request.user,
        lines=[
            adding.WantedLine(
                line.product, line.product.sku, line.quantity, line.note, line.unit_price, source
            )
            for line in order.lines.select_related("product")
        ],
    )
    messages.add_message(request, report.level, report.summary)
    adding.report_stash(request.session, report)
    return redirect("po-builder")


def _csv_response(filename: str) -> tuple[HttpResponse, csv.Writer]:  # type: ignore[name-defined]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # Excel opens UTF-8 only with a byte-order mark
    return response, csv.writer(response)


@require_GET
@company_role_required()
def order_export(request: MemberRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    response, raw_writer = _csv_response(f"{order.customer_po_number or order.pk}.csv")
    writer = csvexport.SafeWriter(raw_writer)  # a PO number or note starting with = stays text
    writer.writerow(
        ["po_number", "sku", "name", "quantity", "unit_price", "price_source", "line_amount", "note"]
    )
    for line in order.lines.select_related("product"):
        writer.writerow(
            [
                order.customer_po_number,
                line.product.sku,
                line.product.name,
                f"{line.quantity.normalize():f}",
                line.unit_price if line.unit_price is not None else "",
                line.price_source,
                line.line_amount if line.line_amount is not None else "",
                line.note,
            ]
        )
    return response


@require_GET
@company_role_required()
def order_list_export(request: MemberRequest) -> HttpResponse:
    orders = selectors.purchase_order_list(
        company=request.membership.company, status=request.GET.get("status", "")
    )
    response, raw_writer = _csv_response(f"orders-{timezone.localdate():%Y%m%d}.csv")
    writer = csvexport.SafeWriter(raw_writer)  # a PO number or note starting with = stays text
    writer.writerow(
        ["po_number", "status", "submitted_at", "buyer", "lines", "total", "currency", "erp_reference"]
    )
    for order in orders:
        writer.writerow(
            [
                order.customer_po_number,
                order.status,
                order.submitted_at.isoformat() if order.submitted_at else "",
                order.buyer.email,
                getattr(order, "line_count", ""),
                order.total_amount or "",
                order.currency,
                order.erp_reference,
            ]
        )
    return response
