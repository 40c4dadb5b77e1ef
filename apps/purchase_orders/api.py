"""REST API for procurement systems: create, list and read the company's purchase orders."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError
from django.db.models import Prefetch, prefetch_related_objects
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Membership, Role
from apps.accounts.permissions import user_membership
from apps.core.rest import MESSAGES, detail_response, validation_error_response
from apps.purchase_orders import selectors, services
from apps.purchase_orders.exceptions import OrderRequestRefused
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import IdempotencyRecord, PurchaseOrder, PurchaseOrderLine
from apps.purchase_orders.quantities import parse_quantity

IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = IdempotencyRecord._meta.get_field("key").max_length or 200
IDEMPOTENCY_HEADER = OpenApiParameter(
    IDEMPOTENCY_KEY,
    {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retrying a create with the same key returns the same order; the same key with a different "
    f"body is refused with 409. At most {IDEMPOTENCY_KEY_MAX_LENGTH} characters (a longer key is a 400).",
)
# Per-line problems: {"lines": {"<index of the line in the request>": ["reason", ...]}}; a problem with the
# list itself (empty, not a list): {"lines": ["reason"]}.
LINE_ERRORS = {"anyOf": [MESSAGES, {"type": "object", "additionalProperties": MESSAGES}]}
ORDER_ERRORS = validation_error_response({"lines": LINE_ERRORS, IDEMPOTENCY_KEY: MESSAGES})


def _lines_with_products() -> Prefetch:
    """Lines and their products in one query per page of orders: a join, never one condition per line
    (Django's forward prefetch of ``lines__product`` lists every product id in an OR on SQLite, past its
    1,000-deep expression limit for an order of a thousand products)."""
    return Prefetch("lines", queryset=PurchaseOrderLine.objects.select_related("product").order_by("id"))


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

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "status": {"type": "string"},
                "reasons": MESSAGES,
                "message": {"type": "string"},
                "decided_at": {"type": "string", "format": "date-time", "nullable": True},
                "decision_note": {"type": "string"},
            },
            "required": ["status", "reasons", "message", "decided_at", "decision_note"],
        }
    )
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
        ship_to_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
        requested_date = serializers.DateField(
            required=False, allow_null=True, help_text="Today or later, in the portal's time zone."
        )
        notes = serializers.CharField(required=False, allow_blank=True, default="")
        lines = LineInput(many=True, allow_empty=False)

        def validate_requested_date(self, value: date | None) -> date | None:
            today = timezone.localdate()
            if value is not None and value < today:
                raise serializers.ValidationError(f"Give today ({today:%Y-%m-%d}) or a later date.")
            return value

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=PurchaseOrder.Status.values)],
        responses={
            200: inline_serializer("PurchaseOrderList", {"results": OrderOutput(many=True)}),
            401: detail_response("No valid token."),
            403: detail_response("Not a company's user."),
        },
        operation_id="purchase_orders_list",
    )
    def get(self, request: Request) -> Response:
        membership = _membership(request)
        wanted = request.query_params.get("status", "")
        if wanted and wanted not in PurchaseOrder.Status.values:
            return Response({"results": []})  # no order has that status (nor a NUL byte the database refuses)
        orders = selectors.purchase_order_list(company=membership.company, status=wanted)
        orders = orders.prefetch_related(_lines_with_products())[:200]
        return Response({"results": OrderOutput(orders, many=True).data})

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OrderOutput,
            200: OrderOutput,
            400: ORDER_ERRORS,
            401: detail_response("No valid token."),
            403: detail_response("Not a company's user, or a role that cannot place orders."),
            409: detail_response("This Idempotency-Key was used with a different request body."),
        },
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="purchase_orders_create",
    )
    def post(self, request: Request) -> Response:
        membership = _membership(request, create=True)
        company = membership.company
        key = request.headers.get(IDEMPOTENCY_KEY, "").strip()
        if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise ValidationError(
                {
                    IDEMPOTENCY_KEY: [
                        f"The {IDEMPOTENCY_KEY} header has {len(key):,} characters; "
                        f"at most {IDEMPOTENCY_KEY_MAX_LENGTH} are kept."
                    ]
                }
            )
        body_hash = hashlib.sha256(json.dumps(request.data, sort_keys=True, default=str).encode()).hexdigest()
        if key:
            seen = selectors.idempotency_record_get(company=company, key=key)
            if seen is not None:
                return self._replay(seen, body_hash)
        serializer = self.InputSerializer(data=request.data)
        if not serializer.is_valid():
            raise ValidationError(_by_line(serializer.errors))
        try:
            order = services.purchase_order_place(
                company=company,
                buyer=membership.user,
                request=_order_request(serializer.validated_data),
                idempotency_key=key,
                request_hash=body_hash,
            )
        except OrderRequestRefused as exc:
            raise ValidationError(exc.errors) from exc
        except IntegrityError:
            # A concurrent retry with the same key won the race: answer as a retry would.
            seen = selectors.idempotency_record_get(company=company, key=key) if key else None
            if seen is None:
                raise
            return self._replay(seen, body_hash)
        return Response(OrderOutput(_with_lines(order)).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _replay(seen: IdempotencyRecord, body_hash: str) -> Response:
        if seen.request_hash != body_hash:
            return Response(
                {"detail": "This Idempotency-Key was used with a different request body."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(OrderOutput(_with_lines(seen.purchase_order)).data, status=status.HTTP_200_OK)


def _order_request(data: dict[str, Any]) -> services.OrderRequest:
    """The validated body as the order service reads it: quantities parsed, a line that cannot be read
    kept by its index with why."""
    unreadable: dict[int, str] = {}
    parsed: list[ParsedLine] = []
    for index, line in enumerate(data["lines"]):
        try:
            # JSON and API clients write a decimal point: "1.000" is one, never a thousand.
            quantity: Decimal = parse_quantity(line["quantity"], decimal_mark=".")
        except ValueError as exc:
            unreadable[index] = str(exc)
            continue
        parsed.append(ParsedLine(index, line["sku"].upper(), quantity, line.get("note", "")))
    return services.OrderRequest(
        po_number=data["po_number"],
        lines=parsed,
        unreadable=unreadable,
        ship_to_id=data.get("ship_to_id"),
        requested_date=data.get("requested_date") or None,
        notes=data.get("notes", ""),
    )


def _with_lines(order: PurchaseOrder) -> PurchaseOrder:
    prefetch_related_objects([order], _lines_with_products())
    return order


def _by_line(errors: dict[str, Any]) -> dict[str, Any]:
    """DRF reports a bad line as ``{"lines": {<index>: {"field": ["reason"]}}}``; say it as the API's other
    line problems are said, ``{"lines": {"<index>": ["field: reason"]}}``, so a client reads one shape."""
    lines = errors.get("lines")
    if isinstance(lines, list) and all(isinstance(entry, dict) for entry in lines):
        lines = dict(enumerate(lines))
    if isinstance(lines, dict):
        if set(lines) == {"non_field_errors"}:
            return {**errors, "lines": [str(message) for message in lines["non_field_errors"]]}
        errors = {**errors}
        errors["lines"] = {str(index): _messages(entry) for index, entry in lines.items() if entry}
    return errors


def _messages(entry: dict[str, list[str]] | list[str]) -> list[str]:
    """One line's reasons: ``["field: reason"]`` for a field, the reason alone for the line as a whole."""
    if isinstance(entry, list):
        return [str(message) for message in entry]
    return [
        str(message) if field == "non_field_errors" else f"{field}: {message}"
        for field, messages in entry.items()
        for message in messages
    ]


class PurchaseOrderDetailApi(APIView):
    @extend_schema(
        responses={
            200: OrderOutput,
            401: detail_response("No valid token."),
            403: detail_response("Not a company's user."),
            404: detail_response("No such order in your company."),
        },
        operation_id="purchase_orders_read",
    )
    def get(self, request: Request, order_id: int) -> Response:
        membership = _membership(request)
        try:
            order = selectors.purchase_order_get(company=membership.company, order_id=order_id)
        except PurchaseOrder.DoesNotExist as exc:
            raise NotFound("No such order in your company.") from exc
        return Response(OrderOutput(_with_lines(order)).data)
