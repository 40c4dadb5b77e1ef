from __future__ import annotations

from django.db.models import Count, QuerySet

from apps.accounts.models import Company
from apps.purchase_orders.models import IdempotencyRecord, PurchaseOrder, PurchaseOrderLine


def purchase_order_list(*, company: Company, status: str = "") -> QuerySet[PurchaseOrder]:
    orders = (
        PurchaseOrder.objects.filter(company=company)
        .exclude(status=PurchaseOrder.Status.DRAFT)
        .select_related("buyer", "ship_to", "credit_hold")
        .annotate(line_count=Count("lines"))
        .order_by("-submitted_at", "-id")
    )
    return orders.filter(status=status) if status else orders


def purchase_order_get(*, company: Company, order_id: int) -> PurchaseOrder:
    """An order of ``company``; another company's id raises DoesNotExist (a 404)."""
    return PurchaseOrder.objects.select_related(
        "company", "buyer", "ship_to", "submitted_by", "credit_hold"
    ).get(company=company, pk=order_id)


def purchase_order_line_get(*, purchase_order: PurchaseOrder, line_id: int) -> PurchaseOrderLine | None:
    """A line of this order with its product; another order's line is None (a 404)."""
    return (
        PurchaseOrderLine.objects.select_related("product")
        .filter(pk=line_id, purchase_order=purchase_order)
        .first()
    )


def idempotency_record_get(*, company: Company, key: str) -> IdempotencyRecord | None:
    """The order an API create with this Idempotency-Key made, if any."""
    return IdempotencyRecord.objects.filter(company=company, key=key).select_related("purchase_order").first()
