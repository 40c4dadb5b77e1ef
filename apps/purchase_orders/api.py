"""REST API for procurement systems: create, list and read the company's purchase orders."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Membership, Role, ShipToAddress
from apps.accounts.permissions import user_membership
from apps.approvals.services import purchase_order_submit_and_route
from apps.core.exceptions import ApplicationError
from apps.purchase_orders import selectors, services
from apps.purchase_orders.lines import ParsedLine, parse_quantity
from apps.purchase_orders.models import IdempotencyRecord, PurchaseOrder

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retrying a create with the same key returns the same order; the same key with a different "
    "body is refused with 409.",
)


def _membership(request: Request, *, create: bool = False) -> Membership:
    membership = user_membership(request.user)
    if membership is None:
        raise PermissionDenied("Only a company's users can use the purchase order API.")
    if create and membership.role not in (Role.BUYER, Role.ADMIN):
        raise PermissionDenied("Your role cannot place orders.")
    return membership


class OrderOutput(serializers.Serializer):
    class LineOutput(serializers.Serializer):
        sku = serializers.CharField(source="product.sku")
        quantity = serializers.DecimalField(max_digits=16, decimal_places=4)
        unit_price = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True)
        price_source = serializers.CharField()
        line_amount = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
        note = serializers.CharField()

    id = serializers.IntegerField()
    po_number = serializers.CharField(source="customer_po_number")
    status = serializers.CharField()
    currency = serializers.CharField()
    total_amount = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    ship_to_id = serializers.IntegerField(allow_null=True)
    requested_date = serializers.DateField(allow_null=True)
    notes = serializers.CharField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    erp_reference = serializers.CharField()
    credit_hold = serializers.SerializerMethodField(
        help_text="Set when the order was held for finance: why, and what finance decided."
    )
    lines = LineOutput(many=True, source="lines.all")

    def get_credit_hold(self, order: PurchaseOrder) -> dict[str, Any] | None:
        hold = getattr(order, "credit_hold", None)  # a missing reverse one-to-one raises AttributeError
        if hold is None:
            return None
        return {
            "status": hold.status,
            "reasons": hold.reasons,
            "message": hold.message,
            "decided_at": hold.decided_at.isoformat() if hold.decided_at else None,
            "decision_note": hold.decision_note,
        }


class PurchaseOrderListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        class LineInput(serializers.Serializer):
            sku = serializers.CharField(max_length=64)
            quantity = serializers.CharField(max_length=40)
            note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

        po_number = serializers.CharField(max_length=50)
        ship_to_id = serializers.IntegerField(required=False)
        requested_date = serializers.DateField(required=False, allow_null=True)
        notes = serializers.CharField(required=False, allow_blank=True, default="")
        lines = LineInput(many=True, allow_empty=False)

    @extend_schema(
        parameters=[OpenApiParameter("status", str)],
        responses=OrderOutput(many=True),
        operation_id="purchase_orders_list",
    )
    def get(self, request: Request) -> Response:
        membership = _membership(request)
        orders = selectors.purchase_order_list(
            company=membership.company, status=request.query_params.get("status", "")
        )
        orders = orders.prefetch_related("lines__product")[:200]
        return Response({"results": OrderOutput(orders, many=True).data})

    @extend_schema(
        request=InputSerializer,
        responses={201: OrderOutput, 200: OrderOutput, 400: None, 409: None},
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="purchase_orders_create",
    )
    def post(self, request: Request) -> Response:
        membership = _membership(request, create=True)
        company = membership.company
        key = request.headers.get("Idempotency-Key", "").strip()
        body_hash = hashlib.sha256(json.dumps(request.data, sort_keys=True, default=str).encode()).hexdigest()
        if key:
            seen = (
                IdempotencyRecord.objects.filter(company=company, key=key)
                .select_related("purchase_order")
                .first()
            )
            if seen is not None:
                return self._replay(seen, body_hash)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                order = self._create(membership, serializer.validated_data)
                if key:
                    IdempotencyRecord.objects.create(
                        company=company, key=key, request_hash=body_hash, purchase_order=order
                    )
        except IntegrityError:
            # A concurrent retry with the same key won the race: answer as a retry would.
            seen = IdempotencyRecord.objects.get(company=company, key=key)
            return self._replay(seen, body_hash)
        return Response(OrderOutput(order).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _replay(seen: IdempotencyRecord, body_hash: str) -> Response:
        if seen.request_hash != body_hash:
            return Response(
                {"detail": "This Idempotency-Key was used with a different request body."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(OrderOutput(seen.purchase_order).data, status=status.HTTP_200_OK)

    @staticmethod
    def _create(membership: Membership, data: dict[str, Any]) -> PurchaseOrder:
        company = membership.company
        if PurchaseOrder.objects.filter(company=company, customer_po_number=data["po_number"]).exists():
            raise ValidationError({"po_number": [f"Your company already has an order {data['po_number']}."]})
        ship_to = ShipToAddress.objects.filter(company=company, is_active=True)
        ship_to = (
            ship_to.filter(pk=data["ship_to_id"]) if "ship_to_id" in data else ship_to.filter(is_default=True)
        )
        address = ship_to.first()
        if address is None:
            raise ValidationError({"ship_to_id": ["No such ship-to address in your company."]})
        line_errors: dict[int, str] = {}
        parsed: list[ParsedLine] = []
        for index, line in enumerate(data["lines"]):
            try:
                quantity: Decimal = parse_quantity(line["quantity"])
            except ValueError as exc:
                line_errors[index] = str(exc)
                continue
            parsed.append(ParsedLine(index, line["sku"].upper(), quantity, line.get("note", "")))
        order = PurchaseOrder.objects.create(
            company=company,
            buyer=membership.user,
            customer_po_number=data["po_number"],
            ship_to=address,
            requested_date=data.get("requested_date") or None,
            notes=data.get("notes", ""),
        )
        result = services.purchase_order_lines_add(purchase_order=order, lines=parsed)
        line_errors.update({entry.line: entry.message for entry in result.report if not entry.ok})
        if line_errors:
            raise ValidationError(
                {"lines": {str(index): [message] for index, message in sorted(line_errors.items())}}
            )
        try:
            return purchase_order_submit_and_route(purchase_order=order, actor=membership.user)
        except ApplicationError as exc:
            raise ValidationError({"detail": [exc.message]}) from exc


class PurchaseOrderDetailApi(APIView):
    @extend_schema(responses=OrderOutput, operation_id="purchase_orders_read")
    def get(self, request: Request, order_id: int) -> Response:
        membership = _membership(request)
        try:
            order = selectors.purchase_order_get(company=membership.company, order_id=order_id)
        except PurchaseOrder.DoesNotExist as exc:
            raise NotFound("No such order in your company.") from exc
        return Response(OrderOutput(order).data)
