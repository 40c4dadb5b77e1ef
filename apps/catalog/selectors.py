from __future__ import annotations

from collections.abc import Iterable

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.db.models.functions import Upper

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


def product_page(
    products: QuerySet[Product], number: str | int | None, per_page: int
) -> tuple[Page[int], list[Product]]:
    """A page of products: the ids are paged first (an index-only OFFSET, cheap deep in a 100,000-SKU
    catalog), then only those rows are loaded with their category and stock, in the same order."""
    page = Paginator(products.values_list("pk", flat=True), per_page).get_page(number)
    ids = list(page.object_list)
    loaded = Product.objects.select_related("category", "stock").in_bulk(ids)
    return page, [loaded[pk] for pk in ids]


def products_by_sku(skus: Iterable[str]) -> dict[str, Product]:
    """The products these SKUs name, in any case, keyed by the upper-case SKU, active or not: one query."""
    wanted = {sku.upper() for sku in skus}
    if not wanted:
        return {}
    found = Product.objects.annotate(sku_upper=Upper("sku")).filter(sku_upper__in=wanted)
    return {product.sku_upper: product for product in found}
