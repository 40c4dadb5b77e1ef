from __future__ import annotations

from django.contrib.auth.models import User

from apps.accounts.models import Company
from apps.approvals.models import ApprovalRequest
from apps.approvals.services import eligible
from apps.purchase_orders.models import PurchaseOrder


def approval_queue(*, user: User, company: Company) -> list[ApprovalRequest]:
    """Steps of this company's orders waiting for a decision this user may take; an order no longer
    awaiting approval (cancelled, rejected, decided) leaves the queue whatever its steps say."""
    pending = (
        ApprovalRequest.objects.filter(
            purchase_order__company=company,
            purchase_order__status=PurchaseOrder.Status.AWAITING_APPROVAL,
            status=ApprovalRequest.Status.PENDING,
        )
        .select_related("purchase_order", "purchase_order__submitted_by", "purchase_order__company")
        .prefetch_related("approvers")
        .order_by("purchase_order__submitted_at")
    )
    return [request for request in pending if eligible(request, user)]


def approval_get(*, company: Company, request_id: int) -> ApprovalRequest | None:
    return (
        ApprovalRequest.objects.select_related("purchase_order")
        .filter(purchase_order__company=company, pk=request_id)
        .first()
    )
