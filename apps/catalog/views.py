from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import StaffRole
from apps.accounts.permissions import staff_role_required
from apps.catalog import selectors, services
from apps.catalog.models import Product
from apps.core.http import AuthenticatedRequest
from apps.erp.selectors import sync_state_for, sync_states_for, timeline_for

PAGE_SIZE = 50


@require_GET
@staff_role_required(StaffRole.ACCOUNT_MANAGER)
def product_list(request: AuthenticatedRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    category = request.GET.get("category", "")
    category_id = int(category) if category.isdigit() else None
    include_inactive = request.GET.get("inactive") == "1"
    products = selectors.product_list(
        search=search, category_id=category_id, include_inactive=include_inactive
    )
    page, items = selectors.product_page(products, request.GET.get("page"), PAGE_SIZE)
    context = {
        "page": page,
        "products": items,
        "sync_states": sync_states_for(Product, [product.pk for product in items]),
        "search": search,
        "category_id": category_id,
        "include_inactive": include_inactive,
        "categories": selectors.category_list(),
    }
    template = "catalog/product_list.html#product-table" if request.htmx else "catalog/product_list.html"
    return render(request, template, context)


@require_GET
@staff_role_required(StaffRole.ACCOUNT_MANAGER)
def product_detail(request: AuthenticatedRequest, product_id: int) -> HttpResponse:
    product = Product.objects.select_related("category", "stock").filter(pk=product_id).first()
    if product is None:
        raise Http404("No such product.")
    context = {"product": product, "sync_state": sync_state_for(product), "events": timeline_for(product, 20)}
    template = "catalog/product_detail.html#product-panel" if request.htmx else "catalog/product_detail.html"
    return render(request, template, context)


class OrderRulesForm(forms.Form):
    order_minimum = forms.DecimalField(label="Minimum", max_digits=16, decimal_places=4)
    order_increment = forms.DecimalField(label="Increment", max_digits=16, decimal_places=4)
    order_maximum = forms.DecimalField(label="Maximum", max_digits=16, decimal_places=4, required=False)


@require_POST
@staff_role_required(StaffRole.ACCOUNT_MANAGER)
def product_order_rules(request: AuthenticatedRequest, product_id: int) -> HttpResponse:
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise Http404("No such product.")
    form = OrderRulesForm(request.POST)
    if form.is_valid():
        try:
            services.product_order_rules_update(product=product, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        else:
            messages.success(request, f"Ordering rules of {product.sku} saved.")
    else:
        messages.error(request, "Enter numbers for the minimum, the increment and (optionally) the maximum.")
    return redirect("manager-product-detail", product_id=product.pk)
