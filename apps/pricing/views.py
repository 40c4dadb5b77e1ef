from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import Company, Role, StaffRole
from apps.accounts.permissions import (
    MemberRequest,
    company_role_required,
    staff_role_required,
    user_staff_roles,
)
from apps.accounts.selectors import company_get_for_staff, company_list_for_staff
from apps.catalog import selectors as catalog_selectors
from apps.core.http import AuthenticatedRequest
from apps.pricing import selectors, services, uploads
from apps.pricing.exceptions import PricingError
from apps.pricing.forms import PriceRowForm, PriceUploadForm, TierAssignForm, TierDefaultForm
from apps.pricing.models import CompanyPricing, ContractPrice, PriceChange, PriceTier, PriceUpload, TierPrice

AM = StaffRole.ACCOUNT_MANAGER
PAGE_SIZE = 50


def _company_or_404(request: AuthenticatedRequest, company_id: int) -> Company:
    try:
        return company_get_for_staff(user=request.user, company_id=company_id)
    except Company.DoesNotExist as exc:
        raise Http404("No such account among yours.") from exc


def _tier_or_404(tier_id: int) -> PriceTier:
    tier = PriceTier.objects.filter(pk=tier_id).first()
    if tier is None:
        raise Http404("No such tier.")
    return tier


# --- Tiers -----------------------------------------------------------------------------------------------


@require_GET
@staff_role_required(AM)
def tier_list(request: AuthenticatedRequest) -> HttpResponse:
    tiers = PriceTier.objects.all()
    counts = {pricing["tier"]: pricing["n"] for pricing in _tier_counts()}
    return render(request, "pricing/tier_list.html", {"tiers": tiers, "counts": counts})


def _tier_counts() -> list[Any]:
    return list(CompanyPricing.objects.values("tier").annotate(n=Count("id")))


@require_POST
@staff_role_required(AM)
def tier_default_edit(request: AuthenticatedRequest, tier_id: int) -> HttpResponse:
    tier = _tier_or_404(tier_id)
    form = TierDefaultForm(request.POST)
    if form.is_valid():
        services.tier_default_update(
            actor=request.user,
            tier=tier,
            default_discount_percent=form.cleaned_data["default_discount_percent"],
        )
        messages.success(request, f"{tier.name} now takes {tier.default_discount_percent}% off list price.")
    else:
        errors = form.errors.get("default_discount_percent") or ["Invalid discount."]
        messages.error(request, "; ".join(str(error) for error in errors))
    return redirect("pricing-tiers")


def _rows_context(request: AuthenticatedRequest, rows: Any, **extra: Any) -> dict[str, Any]:
    search = request.GET.get("q", "").strip()
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return {"page": page, "search": search, "form": PriceRowForm(), **extra}


@require_GET
@staff_role_required(AM)
def tier_prices(request: AuthenticatedRequest, tier_id: int) -> HttpResponse:
    tier = _tier_or_404(tier_id)
    rows = selectors.tier_price_list(tier=tier, search=request.GET.get("q", "").strip())
    context = _rows_context(
        request, rows, tier=tier, scope="tier", add_url=f"/pricing/tiers/{tier.pk}/prices/add/"
    )
    template = "pricing/prices.html#price-table" if request.htmx else "pricing/prices.html"
    return render(request, template, context)


@require_GET
@staff_role_required(AM)
def company_pricing(request: AuthenticatedRequest, company_id: int) -> HttpResponse:
    company = _company_or_404(request, company_id)
    rows = selectors.contract_price_list(company=company, search=request.GET.get("q", "").strip())
    context = _rows_context(
        request,
        rows,
        company=company,
        scope="contract",
        add_url=f"/pricing/companies/{company.pk}/prices/add/",
        tier_form=TierAssignForm(initial={"tier": selectors.company_tier(company)}),
    )
    template = "pricing/prices.html#price-table" if request.htmx else "pricing/prices.html"
    return render(request, template, context)


@require_POST
@staff_role_required(AM)
def company_tier_assign(request: AuthenticatedRequest, company_id: int) -> HttpResponse:
    company = _company_or_404(request, company_id)
    form = TierAssignForm(request.POST)
    if form.is_valid():
        tier = form.cleaned_data["tier"]
        services.company_tier_assign(actor=request.user, company=company, tier=tier)
        messages.success(request, f"{company.name} now buys at {tier.name if tier else 'list price'}.")
    else:
        messages.error(request, "Pick one of the listed tiers.")
    if request.htmx:
        return render(request, "pricing/prices.html#tier-assign", {"company": company, "tier_form": form})
    return redirect("pricing-company", company_id=company.pk)


# --- Inline price rows (tier or contract) --------------------------------------------------------------


def _save_row(
    request: AuthenticatedRequest,
    form: PriceRowForm,
    *,
    tier: PriceTier | None,
    company: Company | None,
    row: Any,
) -> Any:
    data = form.cleaned_data
    fields = {
        "actor": request.user,
        "product": data["sku"],
        "min_quantity": data["min_quantity"],
        "unit_price": data["unit_price"],
        "valid_from": data["valid_from"],
        "valid_to": data["valid_to"],
        "row": row,
    }
    if tier is not None:
        return services.tier_price_save(tier=tier, **fields)
    assert company is not None  # noqa: S101 - one of the two scopes is always given
    return services.contract_price_save(company=company, **fields)


def _row_response(
    request: AuthenticatedRequest, form: PriceRowForm, row: Any, scope_url: str, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "pricing/prices.html#row-form",
        {"form": form, "row": row, "action": request.path, "cancel_url": scope_url},
        status=status,
    )


def _row_editor(
    request: AuthenticatedRequest,
    *,
    tier: PriceTier | None,
    company: Company | None,
    row: Any,
    scope_url: str,
) -> HttpResponse:
    if request.method == "GET":
        initial = (
            {
                "sku": row.product.sku,
                "min_quantity": f"{row.min_quantity.normalize():f}",
                "unit_price": row.unit_price,
                "valid_from": row.valid_from,
                "valid_to": row.valid_to,
            }
            if row is not None
            else None
        )
        return _row_response(request, PriceRowForm(initial=initial), row, scope_url)
    form = PriceRowForm(request.POST)
    if form.is_valid():
        try:
            saved = _save_row(request, form, tier=tier, company=company, row=row)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc)
        else:
            messages.success(request, f"Price of {saved.product.sku} saved.")
            if request.htmx:
                return render(
                    request, "pricing/prices.html#price-row", {"row": saved, "scope_url": scope_url}
                )
            return redirect(scope_url)
    return _row_response(request, form, row, scope_url, status=200 if request.htmx else 400)


@require_http_methods(["GET", "POST"])
@staff_role_required(AM)
def tier_price_add(request: AuthenticatedRequest, tier_id: int) -> HttpResponse:
    tier = _tier_or_404(tier_id)
    return _row_editor(request, tier=tier, company=None, row=None, scope_url=f"/pricing/tiers/{tier.pk}/")


@require_http_methods(["GET", "POST"])
@staff_role_required(AM)
def tier_price_edit(request: AuthenticatedRequest, tier_id: int, row_id: int) -> HttpResponse:
    tier = _tier_or_404(tier_id)
    row = TierPrice.objects.select_related("product").filter(pk=row_id, tier=tier).first()
    if row is None:
        raise Http404("No such price in this tier.")
    if request.method == "POST" and request.POST.get("delete"):
        services.price_delete(actor=request.user, row=row)
        messages.success(request, f"Price of {row.product.sku} removed.")
        return HttpResponse("") if request.htmx else redirect("pricing-tier", tier_id=tier.pk)
    return _row_editor(request, tier=tier, company=None, row=row, scope_url=f"/pricing/tiers/{tier.pk}/")


@require_http_methods(["GET", "POST"])
@staff_role_required(AM)
def contract_price_add(request: AuthenticatedRequest, company_id: int) -> HttpResponse:
    company = _company_or_404(request, company_id)
    return _row_editor(
        request, tier=None, company=company, row=None, scope_url=f"/pricing/companies/{company.pk}/"
    )


@require_http_methods(["GET", "POST"])
@staff_role_required(AM)
def contract_price_edit(request: AuthenticatedRequest, company_id: int, row_id: int) -> HttpResponse:
    company = _company_or_404(request, company_id)
    row = ContractPrice.objects.select_related("product").filter(pk=row_id, company=company).first()
    if row is None:
        raise Http404("No such contract price for this account.")
    if request.method == "POST" and request.POST.get("delete"):
        services.price_delete(actor=request.user, row=row)
        messages.success(request, f"Contract price of {row.product.sku} removed.")
        return HttpResponse("") if request.htmx else redirect("pricing-company", company_id=company.pk)
    return _row_editor(
        request, tier=None, company=company, row=row, scope_url=f"/pricing/companies/{company.pk}/"
    )


# --- Bulk upload -----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_role_required(AM)
def upload_new(request: AuthenticatedRequest) -> HttpResponse:
    form = PriceUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        file = form.cleaned_data["file"]
        try:
            upload = uploads.upload_parse(
                actor=request.user,
                filename=file.name,
                content=file.read(),
                companies=company_list_for_staff(user=request.user),
            )
        except PricingError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("pricing-upload", upload_id=upload.pk)
    status = 400 if form.errors else 200
    return render(
        request, "pricing/upload_new.html", {"form": form, "example": uploads.upload_example()}, status=status
    )


def _upload_or_404(request: AuthenticatedRequest, upload_id: int) -> PriceUpload:
    upload = PriceUpload.objects.filter(pk=upload_id).first()
    # An upload is its author's (admins see all): it names accounts the author may price.
    if upload is None or (
        upload.uploaded_by_id != request.user.pk and StaffRole.ADMIN not in _roles(request)
    ):
        raise Http404("No such upload.")
    return upload


def _roles(request: AuthenticatedRequest) -> frozenset[StaffRole]:
    return user_staff_roles(request.user)


@require_GET
@staff_role_required(AM)
def upload_detail(request: AuthenticatedRequest, upload_id: int) -> HttpResponse:
    upload = _upload_or_404(request, upload_id)
    context = {
        "upload": upload,
        "impact": uploads.upload_impact(upload) if upload.status == PriceUpload.Status.PREVIEW else None,
        "errors": [entry for entry in upload.report if not entry["ok"]],
        "percent": int(upload.done_lines * 100 / upload.total_lines) if upload.total_lines else 100,
    }
    template = "pricing/upload_detail.html#upload-status" if request.htmx else "pricing/upload_detail.html"
    return render(request, template, context)


@require_POST
@staff_role_required(AM)
def upload_publish(request: AuthenticatedRequest, upload_id: int) -> HttpResponse:
    upload = _upload_or_404(request, upload_id)
    try:
        if request.POST.get("discard"):
            uploads.upload_discard(upload=upload)
            messages.info(request, "Upload discarded; no price changed.")
        else:
            uploads.upload_publish(upload=upload)
            messages.success(request, f"Publishing {upload.total_lines} price(s).")
    except PricingError as exc:
        messages.error(request, exc.message)
    return redirect("pricing-upload", upload_id=upload.pk)


# --- Audit -----------------------------------------------------------------------------------------------


@require_GET
@staff_role_required(AM)
def audit_log(request: AuthenticatedRequest) -> HttpResponse:
    changes = PriceChange.objects.select_related("actor", "company", "product", "tier")
    roles = _roles(request)
    if StaffRole.ADMIN not in roles:
        visible = company_list_for_staff(user=request.user).values("pk")
        changes = changes.filter(company__isnull=True) | changes.filter(company__in=visible)
    search = request.GET.get("q", "").strip()
    if search:
        changes = changes.filter(description__icontains=search)
    page = Paginator(changes.order_by("-at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "pricing/audit.html", {"page": page, "search": search})


# --- The buyer's catalog: products with the company's own prices ----------------------------------------

BUYER_PAGE_SIZE = 50


@require_GET
@company_role_required(acting=True)
def buyer_catalog(request: MemberRequest) -> HttpResponse:
    """The buyer's own prices: every price on this page is resolved for the signed-in user's company."""
    company = request.membership.company
    search = request.GET.get("q", "").strip()
    category = request.GET.get("category", "")
    category_id = int(category) if category.isdigit() else None
    products = catalog_selectors.product_list(search=search, category_id=category_id)
    page, items = catalog_selectors.product_page(products, request.GET.get("page"), BUYER_PAGE_SIZE)
    quotes = selectors.price_resolve_many(account=company, products=items)
    context = {
        "page": page,
        "rows": [(product, quotes[product.pk]) for product in items],
        "search": search,
        "category_id": category_id,
        "categories": catalog_selectors.category_list(),
        "company": company,
        "can_order": request.membership.role in (Role.BUYER, Role.ADMIN),
    }
    template = "pricing/buyer_catalog.html#catalog-results" if request.htmx else "pricing/buyer_catalog.html"
    return render(request, template, context)
