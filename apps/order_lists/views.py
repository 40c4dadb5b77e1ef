from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.permissions import MemberRequest, company_role_required
from apps.catalog.services import quantity_problem
from apps.core import csvexport
from apps.core.exceptions import ApplicationError
from apps.credit import selectors as credit_selectors
from apps.order_lists import selectors, services
from apps.order_lists.exceptions import OrderListError
from apps.order_lists.forms import OrderListForm, PasteForm, UploadForm
from apps.order_lists.models import OrderList
from apps.pricing.selectors import price_resolve_many
from apps.purchase_orders import lines as parsing
from apps.purchase_orders import selectors as order_selectors
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.quantities import parse_quantity
from apps.purchase_orders.services import AddResult, purchase_order_draft_get

KEEPERS = selectors.LIST_KEEPERS
RECENT_INVOICES = 10  # offered on a list's page to add their lines
REPORT_EVERY_LINE_UP_TO = 200  # a larger file's added lines are summed up like its refusals


def _list_or_404(request: MemberRequest, list_id: int) -> OrderList:
    try:
        return selectors.order_list_get(membership=request.membership, list_id=list_id)
    except OrderList.DoesNotExist as exc:
        raise Http404("No such list.") from exc


def _managed(request: MemberRequest, list_id: int) -> OrderList:
    """A list the member owns; a colleague's list they see is a 403, one they do not see a 404."""
    order_list = _list_or_404(request, list_id)
    if not selectors.order_list_can_manage(order_list=order_list, membership=request.membership):
        raise PermissionDenied("Only the list's owner renames, shares or deletes it.")
    return order_list


def _detail_context(request: MemberRequest, order_list: OrderList, **extra: object) -> dict[str, object]:
    membership = request.membership
    lines = list(selectors.order_list_lines(order_list=order_list))
    quotes = price_resolve_many(
        account=order_list.company,
        products=[line.product for line in lines],
        quantity={line.product_id: line.default_quantity for line in lines},
    )
    rows = []
    for line in lines:
        product = line.product
        problem = (
            "no longer sold" if not product.is_active else quantity_problem(product, line.default_quantity)
        )
        rows.append({"line": line, "quote": quotes[line.product_id], "problem": problem})
    can_manage = selectors.order_list_can_manage(order_list=order_list, membership=membership)
    can_edit = selectors.order_list_can_edit(order_list=order_list, membership=membership)
    invoices = (
        list(
            credit_selectors.invoice_list(company=order_list.company)
            .annotate(line_count=Count("lines"))
            .filter(line_count__gt=0)[:RECENT_INVOICES]
        )
        if can_edit
        else []
    )
    return {
        "order_list": order_list,
        "rows": rows,
        "owner_active": selectors.owner_is_active_member(order_list),
        "can_edit": can_edit,
        "invoices": invoices,
        "can_manage": can_manage,
        "can_send": selectors.order_list_can_send(order_list=order_list, membership=membership),
        "settings_form": extra.pop("settings_form", None)
        or (
            OrderListForm(
                initial={
                    "name": order_list.name,
                    "visibility": order_list.visibility,
                    "colleagues_can_edit": order_list.colleagues_can_edit,
                },
                auto_id="settings_%s",
            )
            if can_manage
            else None
        ),
        "quick_form": PasteForm(),
        "csv_form": UploadForm(),
        **extra,
    }


@require_GET
@company_role_required()
def list_index(request: MemberRequest) -> HttpResponse:
    context = {
        "lists": list(selectors.order_list_visible(membership=request.membership)),
        "can_keep": request.membership.role in KEEPERS,
        "form": OrderListForm(),
    }
    return render(request, "order_lists/index.html", context)


@require_POST
@company_role_required(*KEEPERS)
def list_create(request: MemberRequest) -> HttpResponse:
    form = OrderListForm(request.POST)
    if form.is_valid():
        try:
            order_list = services.order_list_create(membership=request.membership, **form.cleaned_data)
        except OrderListError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"List {order_list.name} created.")
            return redirect("order-list-detail", list_id=order_list.pk)
    context = {
        "lists": list(selectors.order_list_visible(membership=request.membership)),
        "can_keep": True,
        "form": form,
    }
    return render(request, "order_lists/index.html", context, status=400)


@require_GET
@company_role_required()
def list_detail(request: MemberRequest, list_id: int) -> HttpResponse:
    order_list = _list_or_404(request, list_id)
    return render(request, "order_lists/detail.html", _detail_context(request, order_list))


@require_POST
@company_role_required(*KEEPERS)
def list_settings(request: MemberRequest, list_id: int) -> HttpResponse:
    order_list = _managed(request, list_id)
    form = OrderListForm(request.POST, auto_id="settings_%s")
    if form.is_valid():
        try:
            services.order_list_settings_update(
                order_list=order_list, membership=request.membership, **form.cleaned_data
            )
        except OrderListError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "List settings saved.")
            return redirect("order-list-detail", list_id=order_list.pk)
    order_list = _list_or_404(request, list_id)
    context = _detail_context(request, order_list, settings_form=form)
    return render(request, "order_lists/detail.html", context, status=400)


@require_POST
@company_role_required(*KEEPERS)
def list_delete(request: MemberRequest, list_id: int) -> HttpResponse:
    order_list = _managed(request, list_id)
    try:
        services.order_list_delete(order_list=order_list, membership=request.membership)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("order-list-detail", list_id=order_list.pk)
    messages.success(request, f"List {order_list.name} deleted.")
    return redirect("order-lists")


def _flash_result(request: MemberRequest, result: AddResult, entries: list[parsing.LineReport]) -> int:
    refused = sum(entry.count for entry in entries if not entry.ok)
    text = f"{result.added} line(s) added, {result.merged} merged, {refused} refused."
    if not refused:
        messages.success(request, text)
    elif result.added or result.merged:
        messages.warning(request, f"{text} See the report below.")
    else:
        messages.error(request, f"Nothing added: {refused} line(s) refused; see the report below.")
    return refused


def _add_parsed(request: MemberRequest, order_list: OrderList, parsed: parsing.Parsed) -> HttpResponse:
    if parsed.error:
        messages.error(request, parsed.error)
        return redirect("order-list-detail", list_id=order_list.pk)
    try:
        result = services.order_list_lines_add(
            order_list=order_list, membership=request.membership, lines=parsed.lines
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("order-list-detail", list_id=order_list.pk)
    entries = [*parsed.report, *result.report]
    _flash_result(request, result, entries)
    order_list = _list_or_404(request, order_list.pk)
    report = parsing.report_summarise(entries, accepted_too=len(entries) > REPORT_EVERY_LINE_UP_TO)
    return render(request, "order_lists/detail.html", _detail_context(request, order_list, report=report))


@require_POST
@company_role_required(*KEEPERS)
def list_quick(request: MemberRequest, list_id: int) -> HttpResponse:
    order_list = _list_or_404(request, list_id)
    form = PasteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Paste at least one line: a SKU and a quantity.")
        return redirect("order-list-detail", list_id=order_list.pk)
    return _add_parsed(request, order_list, parsing.parse_paste(form.cleaned_data["lines"]))


@require_POST
@company_role_required(*KEEPERS)
def list_csv(request: MemberRequest, list_id: int) -> HttpResponse:
    """An order file, read by the order builder's parser; added in one go (a constant number of queries
    whatever its size, so even the largest file needs no background job)."""
    order_list = _list_or_404(request, list_id)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        errors = form.errors.get("file") or ["Choose a file to upload."]
        messages.error(request, " ".join(str(error) for error in errors))
        return redirect("order-list-detail", list_id=order_list.pk)
    upload = form.cleaned_data["file"]
    parsed = parsing.parse_upload(upload.read())
    if parsed.error:
        messages.error(request, f"{upload.name}: {parsed.error}")
        return redirect("order-list-detail", list_id=order_list.pk)
    return _add_parsed(request, order_list, parsed)


@require_POST
@company_role_required(*KEEPERS)
def list_line(request: MemberRequest, list_id: int, line_id: int) -> HttpResponse:
    order_list = _list_or_404(request, list_id)
    current = order_list.lines.select_related("product").filter(pk=line_id).first()
    if current is None:
        raise Http404("No such line on this list.")
    try:
        if request.POST.get("remove"):
            line = services.order_list_line_remove(
                order_list=order_list, membership=request.membership, line_id=line_id
            )
            messages.success(request, f"{line.product.sku} removed.")
        else:
            try:  # a number field: browsers send a decimal point
                quantity = parse_quantity(request.POST.get("quantity", ""), decimal_mark=".")
            except ValueError as exc:
                raise OrderListError(f"{current.product.sku}: {exc}.") from exc
            note = request.POST.get("note")
            line = services.order_list_line_update(
                order_list=order_list,
                membership=request.membership,
                line_id=line_id,
                quantity=quantity,
                note=note,
            )
            messages.success(request, f"{line.product.sku} saved.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("order-list-detail", list_id=order_list.pk)


# --- Adding from other pages ----------------------------------------------------------------------------


class _NothingAdded(Exception):
    """Rolls back a list created for lines that were all refused."""


def _add_to_target(
    request: MemberRequest, lines: Callable[[], list[parsing.ParsedLine]]
) -> tuple[OrderList | None, AddResult | None]:
    """Add to the list chosen in the form (``list``) or to a new one named there (``new_list``); a new list
    whose lines are all refused is not kept. Messages say what happened."""
    membership = request.membership
    new_name = request.POST.get("new_list", "").strip()
    try:
        with transaction.atomic():
            if new_name:
                order_list = services.order_list_create(membership=membership, name=new_name)
            else:
                list_id = request.POST.get("list", "")
                if not list_id.isdigit():
                    raise OrderListError("Choose a list, or name a new one.")
                order_list = _list_or_404(request, int(list_id))
            result = services.order_list_lines_add(
                order_list=order_list, membership=membership, lines=lines()
            )
            if new_name and not (result.added or result.merged):
                raise _NothingAdded
    except _NothingAdded:
        messages.error(request, "Nothing added, so no list was created: " + _refusals(result.report))
        return None, None
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return None, None
    refused = [entry for entry in result.report if not entry.ok]
    text = f"{result.added} line(s) added to {order_list.name}, {result.merged} merged."
    if refused:
        messages.warning(request, f"{text} Not added: {_refusals(refused)}")
    else:
        messages.success(request, text)
    return order_list, result


def _refusals(report: list[parsing.LineReport]) -> str:
    return "; ".join(entry.message for entry in report if not entry.ok) or "no lines."


def _back(request: MemberRequest, order_list: OrderList | None, fallback: str, **kwargs: Any) -> HttpResponse:
    if order_list is not None and (request.POST.get("go") == "list" or fallback == "order-lists"):
        return redirect("order-list-detail", list_id=order_list.pk)
    return redirect(fallback, **kwargs)


@require_POST
@company_role_required(*KEEPERS)
def add_product(request: MemberRequest) -> HttpResponse:
    """One SKU from the catalog (a number field: browsers send a decimal point)."""
    sku = request.POST.get("sku", "").strip().upper()
    try:
        quantity = parse_quantity(request.POST.get("quantity", "1"), decimal_mark=".")
    except ValueError as exc:
        messages.error(request, f"{sku}: {exc}.")
        order_list = None
    else:
        if not sku:
            messages.error(request, "Choose a product to add.")
            order_list = None
        else:
            order_list, _ = _add_to_target(request, lambda: [parsing.ParsedLine(1, sku, quantity, "")])
    if request.htmx:
        return HttpResponse("")  # the flash message arrives out of band (HtmxMessagesMiddleware)
    return _back(request, order_list, "buyer-catalog")


@require_POST
@company_role_required(*KEEPERS)
def add_draft(request: MemberRequest) -> HttpResponse:
    """The lines of the member's draft, as they stand."""
    draft = purchase_order_draft_get(company=request.membership.company, buyer=request.user)
    rows = [(line.product.sku, line.quantity, line.note) for line in draft.lines.select_related("product")]
    if not rows:
        messages.error(request, "Your draft has no lines to keep.")
        return redirect("po-builder")
    order_list, _ = _add_to_target(request, lambda: services.lines_from(rows))
    return _back(request, order_list, "po-builder")


@require_POST
@company_role_required(*KEEPERS)
def add_order(request: MemberRequest, order_id: int) -> HttpResponse:
    """The lines of one of the company's orders."""
    try:
        order = order_selectors.purchase_order_get(company=request.membership.company, order_id=order_id)
    except PurchaseOrder.DoesNotExist as exc:
        raise Http404("No such order in your company.") from exc
    rows = [(line.product.sku, line.quantity, line.note) for line in order.lines.select_related("product")]
    order_list, _ = _add_to_target(request, lambda: services.lines_from(rows))
    return _back(request, order_list, "po-detail", order_id=order.pk)


@require_POST
@company_role_required(*KEEPERS)
def add_invoice(request: MemberRequest, invoice_id: int) -> HttpResponse:
    """The lines of one of the company's invoices as the ERP has them, matched to the catalog (by the
    product the mirror matched, else by SKU); a line that names no product is reported, never dropped."""
    invoice = credit_selectors.invoice_list(company=request.membership.company).filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404("No such invoice in your company.")
    rows, unnamed = [], []
    for line in invoice.lines.select_related("product").order_by("position"):
        sku = line.product.sku if line.product is not None else line.sku.strip()
        if sku:
            rows.append((sku, line.quantity, ""))
        else:
            unnamed.append(f"“{line.description[:60] or f'line {line.position}'}” names no product")
    if unnamed:
        messages.warning(request, f"Not added from invoice {invoice}: " + "; ".join(unnamed) + ".")
    if not rows:
        messages.error(request, f"Invoice {invoice} has no lines with a product to keep.")
        list_id = request.POST.get("list", "")
        return (
            redirect("order-list-detail", list_id=int(list_id))
            if list_id.isdigit()
            else redirect("order-lists")
        )
    order_list, _ = _add_to_target(request, lambda: services.lines_from(rows))
    return _back(request, order_list, "order-lists")


@require_POST
@company_role_required(*KEEPERS)
def list_copy(request: MemberRequest, list_id: int) -> HttpResponse:
    """A list the member sees (a read-only one, a departed colleague's) copied into one of their own."""
    source = _list_or_404(request, list_id)
    rows = [
        (line.product.sku, line.default_quantity, line.note)
        for line in selectors.order_list_lines(order_list=source)
    ]
    if not rows:
        messages.error(request, f"{source.name} has no lines to copy.")
        return redirect("order-list-detail", list_id=source.pk)
    order_list, _ = _add_to_target(request, lambda: services.lines_from(rows))
    if order_list is None:
        return redirect("order-list-detail", list_id=source.pk)
    return redirect("order-list-detail", list_id=order_list.pk)


# --- Sending and exporting ------------------------------------------------------------------------------


@require_POST
@company_role_required(*KEEPERS)
def list_send(request: MemberRequest, list_id: int) -> HttpResponse:
    """The whole list (``all``) or the ticked lines (``line``) to the member's draft; the page answers line
    by line (the draft's add report)."""
    order_list = _list_or_404(request, list_id)
    line_ids = (
        None if request.POST.get("all") else [int(v) for v in request.POST.getlist("line") if v.isdigit()]
    )
    try:
        result = services.order_list_send(
            order_list=order_list, membership=request.membership, line_ids=line_ids
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("order-list-detail", list_id=order_list.pk)
    report = result.report
    if report.refused:
        messages.warning(request, report.summary)
    else:
        messages.success(request, report.summary)
    if result.missing:
        messages.warning(
            request, f"{result.missing} ticked line(s) are no longer on the list; they were not sent."
        )
    return render(
        request, "order_lists/detail.html", _detail_context(request, order_list, send_report=report)
    )


@require_GET
@company_role_required()
def list_export(request: MemberRequest, list_id: int) -> HttpResponse:
    """SKU, name, default quantity, note, price when added and today's price; the file reads back in
    (the quantity column is named so the builder's parser finds it)."""
    order_list = _list_or_404(request, list_id)
    lines = list(selectors.order_list_lines(order_list=order_list))
    quotes = price_resolve_many(
        account=order_list.company,
        products=[line.product for line in lines],
        quantity={line.product_id: line.default_quantity for line in lines},
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = slugify(order_list.name) or f"list-{order_list.pk}"
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 only with a byte-order mark
    writer = csvexport.safe_writer(response)  # a name or note starting with = stays text
    writer.writerow(["SKU", "Name", "Quantity", "Note", "Price when added", "Today's price", "Currency"])
    for line in lines:
        writer.writerow(
            [
                line.product.sku,
                line.product.name,
                f"{line.default_quantity.normalize():f}",
                line.note,
                line.price_when_added if line.price_when_added is not None else "",
                quotes[line.product_id].unit_price,
                quotes[line.product_id].currency,
            ]
        )
    return response
