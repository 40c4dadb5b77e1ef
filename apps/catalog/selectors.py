from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.catalog.models import Category, Product


def product_list(
    *, search: str = "", category_id: int | None = None, include_inactive: bool = False
) -> QuerySet[Product]:
    products = Product.objects.select_related("category", "stock")
    if not include_inactive:
        products = products.filter(is_active=True)
    if search:
        products = products.filter(Q(sku__icontains=search) | Q(name__icontains=search))
    if category_id:
        products = products.filter(category_id=category_id)
    return products.order_by("sku")


def category_list() -> QuerySet[Category]:
    return Category.objects.order_by("name")
