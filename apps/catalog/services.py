from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.catalog.models import Product


@transaction.atomic
def product_order_rules_update(
    *, product: Product, order_minimum: Decimal, order_increment: Decimal, order_maximum: Decimal | None
) -> Product:
    """Set the portal-owned ordering rules of a product (a pull never touches them)."""
    errors = {}
    if order_minimum <= 0:
        errors["order_minimum"] = "The minimum must be more than zero."
    if order_increment <= 0:
        errors["order_increment"] = "The increment must be more than zero."
    if order_maximum is not None and order_maximum < order_minimum:
        errors["order_maximum"] = "The maximum is below the minimum."
    if errors:
        raise ValidationError(errors)
    product.order_minimum, product.order_increment, product.order_maximum = (
        order_minimum,
        order_increment,
        order_maximum,
    )
    product.save(update_fields=["order_minimum", "order_increment", "order_maximum", "updated_at"])
    return product


def quantity_problem(product: Product, quantity: Decimal) -> str:
    """Why ``quantity`` breaks the product's ordering rules, or "" when it does not."""
    if quantity < product.order_minimum:
        return f"order at least {product.order_minimum.normalize():f}"
    if product.order_maximum is not None and quantity > product.order_maximum:
        return f"order at most {product.order_maximum.normalize():f}"
    if (quantity - product.order_minimum) % product.order_increment:
        step, start = product.order_increment.normalize(), product.order_minimum.normalize()
        return f"order in steps of {step:f} from {start:f}"
    return ""


@transaction.atomic
def products_withdraw_deleted_in_erp(product_ids: list[int]) -> int:
    """Products a reconciliation no longer finds in the ERP stop being orderable (never deleted: orders
    and prices refer to them); the drift page shows each one."""
    now = timezone.now()
    return Product.objects.filter(pk__in=product_ids, is_active=True).update(is_active=False, updated_at=now)
