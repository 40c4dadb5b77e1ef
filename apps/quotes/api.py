"""REST API for negotiable quotes: list and read the company's quotes; ask for one, counter an offer,
accept it (into exactly one purchase order) or close it, each retry-safe with an Idempotency-Key.

Company users only, as the purchase order API: buyers and admins act, approvers and viewers read; the
wholesaler's staff (no company membership) work quotes in the portal's pages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Membership
from apps.accounts.permissions import user_membership
from apps.core.rest import DETAIL, MESSAGES, detail_response, validation_error_response
from apps.purchase_orders.quantities import parse_quantity
from apps.quotes import selectors, services
from apps.quotes.exceptions import (
    IdempotencyConflict,
    InvalidTransition,
    NotYourTurn,
    OrderNumberTaken,
    QuoteAlreadyOrdered,
    QuoteError,
    QuoteExpired,
    QuoteForbidden,
)
from apps.quotes.models import Quote, QuoteIdempotencyRecord, QuoteVersion, Side

Action = QuoteIdempotencyRecord.Action
# The states a buyer sees: never a draft, and an offer awaiting the seller's second approval is in review.
BUYER_STATUSES = [
    (value, label)
    for value, label in Quote.Status.choices
    if value not in (Quote.Status.DRAFT, Quote.Status.AWAITING_APPROVAL)
]
PAGE_SIZE = 50
MAX_LINES = 1000
MAX_MESSAGE_LENGTH = 5000
BIGINT_MAX = 2**63 - 1
IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = QuoteIdempotencyRecord._meta.get_field("key").max_length or 200
IDEMPOTENCY_HEADER = OpenApiParameter(
    IDEMPOTENCY_KEY,
    {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retrying with the same key and body returns the quote again (200) and does nothing more; "
    "the same key with a different body, or on another quote, is refused with 409. A key is kept per "
    f"company and action. At most {IDEMPOTENCY_KEY_MAX_LENGTH} characters (a longer key is a 400).",
)
# Per-line problems: {"lines": {"<index of the line in the request>": ["reason", ...]}}; a problem with the
# list itself (empty, too long, not a list): {"lines": ["reason"]}.
LINE_ERRORS = {"anyOf": [MESSAGES, {"type": "object", "additionalProperties": MESSAGES}]}
# 409s say why in ``detail``; an accept of a quote already ordered names its order besides.
CONFLICT = OpenApiResponse(
    response={
        **DETAIL,
        "properties": {
            "detail": {"type": "string"},
            "purchase_order_id": {"type": "integer"},
            "po_number": {"type": "string"},
        },
    },
    description="The quote is not waiting for the buyer (out of turn, final, expired: the quote is "
    "expired afterwards), or the Idempotency-Key was used with a different request.",
)
CONFLICTS = (NotYourTurn, InvalidTransition, QuoteExpired, QuoteAlreadyOrdered, IdempotencyConflict)
COMMON_RESPONSES = {
    401: detail_response("No valid token."),
    403: detail_response("Not a company's user, or a role that only reads quotes (approver, viewer)."),
}
ACTION_RESPONSES = {
    **COMMON_RESPONSES,
    404: detail_response("No such quote in your company."),
    409: CONFLICT,
}


def _membership(request: Request, *, act: bool = False) -> Membership:
    membership = user_membership(request.user)
    if membership is None:
        raise PermissionDenied("Only a company's users can use the quote API.")
    if act and membership.role not in services.BUYING_ROLES:
        raise PermissionDenied("Your role can read quotes but not ask for, counter, accept or close them.")
    return membership


def _quote(request: Request, quote_id: int) -> Quote:
    try:
        return selectors.quote_get_for_user(user=_user(request), quote_id=quote_id)
    except Quote.DoesNotExist as exc:
        raise NotFound("No such quote in your company.") from exc


def _user(request: Request) -> User:
    user = request.user
    if not isinstance(user, User):  # pragma: no cover - IsAuthenticated and a membership come first
        raise PermissionDenied("Sign in.")
    return user


def _name(user: User | None) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.email or user.username


# --- What the API shows ---------------------------------------------------------------------------------


class QuoteOrderReference(serializers.Serializer):
    id = serializers.IntegerField()
    po_number = serializers.CharField(source="customer_po_number")
    status = serializers.CharField()


class QuoteRequestLineOutput(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField(source="product.sku")
    name = serializers.CharField(source="product.name")
    quantity = serializers.DecimalField(max_digits=16, decimal_places=4)
    note = serializers.CharField()


class QuoteVersionOutput(serializers.Serializer):
    """An offer as the buyer sees it: the offered prices, never what the seller compared them with."""

    @extend_schema_serializer(component_name="QuoteOfferLineOutput")
    class LineOutput(serializers.Serializer):
        @extend_schema_serializer(component_name="QuoteOfferBreakOutput")
        class BreakOutput(serializers.Serializer):
            min_quantity = serializers.DecimalField(max_digits=16, decimal_places=4)
            unit_price = serializers.DecimalField(max_digits=16, decimal_places=4)

        product_id = serializers.IntegerField()
        sku = serializers.CharField(source="product.sku")
        name = serializers.CharField(source="product.name")
        quantity = serializers.DecimalField(max_digits=16, decimal_places=4)
        unit_price = serializers.DecimalField(max_digits=16, decimal_places=4)
        currency = serializers.CharField()
        breaks = BreakOutput(
            many=True, source="breaks.all", help_text="From min_quantity on, unit_price each."
        )

    number = serializers.IntegerField()
    valid_until = serializers.DateField(help_text="The offer runs out at the end of this day, in time_zone.")
    note = serializers.CharField()
    currency = serializers.CharField()
    offered_at = serializers.DateTimeField()
    lines = LineOutput(many=True, source="lines.all")


class QuoteEventOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    who = serializers.CharField(allow_null=True, help_text="Null: the portal itself (an expiry).")
    side = serializers.ChoiceField(choices=Side.choices, allow_null=True)
    from_status = serializers.ChoiceField(choices=BUYER_STATUSES, allow_null=True)
    to_status = serializers.ChoiceField(choices=BUYER_STATUSES, allow_null=True)
    message = serializers.CharField()
    version = serializers.IntegerField(allow_null=True, help_text="The number of the offer it is about.")


def _thread(quote: Quote) -> list[dict[str, Any]]:
    numbers = {version.pk: version.number for version in quote.versions.all()}
    return [
        {
            "at": event.at,
            "who": _name(event.actor),
            "side": event.side or None,
            "from_status": event.from_status_for(Side.BUYER),
            "to_status": event.to_status_for(Side.BUYER),
            "message": event.message,
            "version": numbers.get(event.version_id) if event.version_id else None,
        }
        for event in quote.events.all()
    ]


class QuoteSummaryOutput(serializers.Serializer):
    @extend_schema_serializer(component_name="QuoteLatestOffer")
    class LatestOffer(serializers.Serializer):
        number = serializers.IntegerField()
        valid_until = serializers.DateField()
        offered_at = serializers.DateTimeField()

    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.SerializerMethodField(
        help_text="As the buyer sees it: an offer waiting for the seller's own second approval is in review."
    )
    turn = serializers.ChoiceField(
        choices=Side.choices, allow_null=True, help_text="Whose move it is; null once the quote is final."
    )
    currency = serializers.CharField()
    wanted_date = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When the offer on the table runs out.")
    request_lines = QuoteRequestLineOutput(many=True, source="request_lines.all")
    latest_offer = serializers.SerializerMethodField()
    purchase_order = QuoteOrderReference(allow_null=True, help_text="The order made from the accepted offer.")

    @extend_schema_field(serializers.ChoiceField(choices=BUYER_STATUSES))
    def get_status(self, quote: Quote) -> str:
        return str(quote.status_for(Side.BUYER))

    @extend_schema_field(LatestOffer(allow_null=True))
    def get_latest_offer(self, quote: Quote) -> dict[str, Any] | None:
        versions: list[QuoteVersion] = list(quote.versions.all())
        if not versions:
            return None
        return dict(self.LatestOffer(max(versions, key=lambda version: version.number)).data)


class QuoteOutput(QuoteSummaryOutput):
    message = serializers.CharField()
    time_zone = serializers.CharField(help_text="The zone an offer's valid-until day ends in.")
    versions = QuoteVersionOutput(many=True, source="versions.all", help_text="Every offer, the first first.")
    thread = serializers.SerializerMethodField(help_text="Who said what, when, and the move it made.")

    @extend_schema_field(QuoteEventOutput(many=True))
    def get_thread(self, quote: Quote) -> list[dict[str, Any]]:
        return list(QuoteEventOutput(_thread(quote), many=True).data)


def _shown(request: Request, quote: Quote, code: int = status.HTTP_200_OK) -> Response:
    """The quote read again as the user sees it, with every version and the thread."""
    fresh = selectors.quote_get_for_user(user=_user(request), quote_id=quote.pk)
    return Response(QuoteOutput(fresh).data, status=code)


# --- Idempotent actions ---------------------------------------------------------------------------------


def _key(request: Request) -> str:
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
    return key


def _request_hash(request: Request, action: str, quote: Quote | None) -> str:
    """The action, the quote it is on and the body: the same key and body on another quote differ."""
    payload = {"action": action, "quote": quote.pk if quote else None, "body": request.data}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _conflict(exc: QuoteError) -> Response:
    return Response({"detail": exc.message, **exc.extra}, status=status.HTTP_409_CONFLICT)


def _once(
    request: Request,
    membership: Membership,
    action: Action,
    quote: Quote | None,
    validate: Callable[[], Callable[[Quote | None], Quote]],
    done_status: int = status.HTTP_200_OK,
) -> Response:
    """Replay a retry (or refuse its key with 409) before reading the body, as the order API does; else
    validate the body into the service call and run it once for the key. Quote errors become 409s
    (turn, state, expiry, a second accept, a reused key) or 400s (``{"detail": ["why"]}``)."""
    key = _key(request)
    request_hash = _request_hash(request, action, quote)
    if key:
        seen = selectors.quote_idempotency_record_get(company=membership.company, key=key, action=action)
        if seen is not None:
            if seen.request_hash != request_hash:
                return _conflict(
                    IdempotencyConflict("This Idempotency-Key was used with a different request.")
                )
            return _shown(request, seen.quote)
    act = validate()
    try:
        once = services.quote_act_once(
            company=membership.company,
            action=action,
            key=key,
            request_hash=request_hash,
            act=act,
            quote=quote,
        )
    except CONFLICTS as exc:
        return _conflict(exc)
    except QuoteForbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except OrderNumberTaken as exc:
        raise ValidationError({"customer_po_number": [exc.message]}) from exc
    except QuoteError as exc:
        raise ValidationError({"detail": [exc.message]}) from exc
    return _shown(request, once.quote, done_status if once.done_now else status.HTTP_200_OK)


def _valid(serializer: serializers.Serializer) -> dict[str, Any]:
    if not serializer.is_valid():
        raise ValidationError(serializer.errors)
    return dict(serializer.validated_data)


# --- Endpoints ------------------------------------------------------------------------------------------


class QuoteListRequestApi(APIView):
    @extend_schema_serializer(component_name="QuoteRequestInput")
    class InputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="QuoteRequestLineInput")
        class LineInput(serializers.Serializer):
            sku = serializers.CharField(
                max_length=64, required=False, help_text="Give a sku or a product_id."
            )
            product_id = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX)
            quantity = serializers.CharField(max_length=40, help_text='A decimal point: "12.5".')
            note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

            def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
                if ("sku" in attrs) == ("product_id" in attrs):
                    raise serializers.ValidationError(
                        "Give the product's sku or its product_id (one of them)."
                    )
                return attrs

        message = serializers.CharField(
            max_length=MAX_MESSAGE_LENGTH, required=False, allow_blank=True, default=""
        )
        wanted_date = serializers.DateField(
            required=False, allow_null=True, help_text="Today or later, in the company's time zone."
        )
        # DRF's ListSerializer takes max_length; the stubs do not know it.
        lines = LineInput(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]

        def validate_wanted_date(self, value: date | None) -> date | None:
            zone = services.company_time_zone(self.context["company"])
            today = services.local_today(zone, timezone.now())
            if value is not None and value < today:
                raise serializers.ValidationError(f"Give today ({today:%Y-%m-%d}) or a later date.")
            return value

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[value for value, _ in BUYER_STATUSES]),
            OpenApiParameter("page", int, description=f"{PAGE_SIZE} quotes a page, the newest first."),
        ],
        responses={
            200: inline_serializer(
                "QuotePage",
                {
                    "count": serializers.IntegerField(),
                    "page": serializers.IntegerField(),
                    "results": QuoteSummaryOutput(many=True),
                },
            ),
            **COMMON_RESPONSES,
        },
        operation_id="quotes_list",
    )
    def get(self, request: Request) -> Response:
        """The company's quotes (never a draft the account manager has not sent yet)."""
        _membership(request)
        quotes = selectors.quote_list_with_request_lines(user=_user(request))
        wanted = request.query_params.get("status", "")
        if wanted and wanted not in dict(BUYER_STATUSES):
            quotes = quotes.none()  # no quote of theirs shows that status (nor a NUL byte PostgreSQL refuses)
        elif wanted == Quote.Status.IN_REVIEW:
            quotes = quotes.filter(status__in=[Quote.Status.IN_REVIEW, Quote.Status.AWAITING_APPROVAL])
        elif wanted:
            quotes = quotes.filter(status=wanted)
        page = Paginator(quotes.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
            request.query_params.get("page")
        )
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "results": QuoteSummaryOutput(page.object_list, many=True).data,
            }
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            201: QuoteOutput,
            200: OpenApiResponse(QuoteOutput, description="A retry with the same Idempotency-Key and body."),
            400: validation_error_response({"lines": LINE_ERRORS, IDEMPOTENCY_KEY: MESSAGES}),
            **COMMON_RESPONSES,
            409: detail_response("This Idempotency-Key was used with a different request."),
        },
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="quotes_request",
    )
    def post(self, request: Request) -> Response:
        """Ask the account manager for prices: the quote is submitted, waiting for them."""
        membership = _membership(request, act=True)

        def validate() -> Callable[[Quote | None], Quote]:
            serializer = self.InputSerializer(data=request.data, context={"company": membership.company})
            if not serializer.is_valid():
                raise ValidationError(_by_line(serializer.errors))
            data = serializer.validated_data
            lines = _requested_lines(data["lines"])
            return lambda _: services.quote_request(
                company=membership.company,
                buyer=_user(request),
                message=data["message"],
                wanted_date=data.get("wanted_date"),
                lines=lines,
            )

        return _once(request, membership, Action.REQUEST, None, validate, status.HTTP_201_CREATED)


def _requested_lines(lines: list[dict[str, Any]]) -> list[services.RequestedLine]:
    """The lines as the service takes them, or a 400 naming every refused line by its index."""
    by_sku, by_id = selectors.quote_products_find(
        skus=[line["sku"] for line in lines if "sku" in line],
        ids=[line["product_id"] for line in lines if "product_id" in line],
    )
    problems: dict[str, list[str]] = {}
    first_line: dict[int, int] = {}
    requested: list[services.RequestedLine] = []
    for index, line in enumerate(lines):
        reasons = problems.setdefault(str(index), [])
        named = line["sku"] if "sku" in line else f"product {line['product_id']}"
        product = by_sku.get(line["sku"].upper()) if "sku" in line else by_id.get(line["product_id"])
        if product is None:
            reasons.append(f"{named}: unknown SKU" if "sku" in line else f"{named}: no such product")
        elif not product.is_active:
            reasons.append(f"{product.sku}: no longer sold")
        elif product.pk in first_line:
            first = first_line[product.pk]
            reasons.append(f"{product.sku} is already on line {first}; give it once with the whole quantity")
        try:
            # JSON and API clients write a decimal point: "1.000" is one, never a thousand.
            quantity: Decimal = parse_quantity(line["quantity"], decimal_mark=".")
        except ValueError as exc:
            reasons.append(str(exc))
        if product is not None:
            first_line.setdefault(product.pk, index)
        if product is not None and not reasons:
            requested.append(services.RequestedLine(product, quantity, line.get("note", "")))
    refused = {index: reasons for index, reasons in problems.items() if reasons}
    if refused:
        raise ValidationError({"lines": refused})
    return requested


def _by_line(errors: dict[str, Any]) -> dict[str, Any]:
    """DRF's ``{"lines": [{"field": ["reason"]}, {}]}`` said as the other line problems are,
    ``{"lines": {"<index>": ["field: reason"]}}``."""
    lines = errors.get("lines")
    if isinstance(lines, list) and all(isinstance(entry, dict) for entry in lines):
        lines = dict(enumerate(lines))
    if isinstance(lines, dict):
        if set(lines) == {"non_field_errors"}:
            return {**errors, "lines": [str(message) for message in lines["non_field_errors"]]}
        errors = {
            **errors,
            "lines": {str(index): _messages(entry) for index, entry in lines.items() if entry},
        }
    return errors


def _messages(entry: dict[str, list[str]] | list[str]) -> list[str]:
    if isinstance(entry, list):
        return [str(message) for message in entry]
    return [
        str(message) if field == "non_field_errors" else f"{field}: {message}"
        for field, messages in entry.items()
        for message in messages
    ]


class QuoteDetailApi(APIView):
    @extend_schema(
        responses={
            200: QuoteOutput,
            **COMMON_RESPONSES,
            404: detail_response("No such quote in your company."),
        },
        operation_id="quotes_read",
    )
    def get(self, request: Request, quote_id: int) -> Response:
        """A quote with whose turn it is, what was asked, every offer and the thread."""
        _membership(request)
        return Response(QuoteOutput(_quote(request, quote_id)).data)


class QuoteCounterApi(APIView):
    @extend_schema_serializer(component_name="QuoteCounterInput")
    class InputSerializer(serializers.Serializer):
        message = serializers.CharField(
            max_length=MAX_MESSAGE_LENGTH,
            help_text="What you would like changed; the account manager reads it.",
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            200: QuoteOutput,
            400: validation_error_response({"message": MESSAGES, IDEMPOTENCY_KEY: MESSAGES}),
            **ACTION_RESPONSES,
        },
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="quotes_counter",
    )
    def post(self, request: Request, quote_id: int) -> Response:
        """Answer the offer with a message: the quote goes back to the account manager (in review)."""
        membership = _membership(request, act=True)
        quote = _quote(request, quote_id)

        def validate() -> Callable[[Quote | None], Quote]:
            data = _valid(self.InputSerializer(data=request.data))
            return lambda locked: services.quote_counter(
                quote=quote, actor=_user(request), message=data["message"]
            )

        return _once(request, membership, Action.COUNTER, quote, validate)


class QuoteAcceptApi(APIView):
    @extend_schema_serializer(component_name="QuoteAcceptInput")
    class InputSerializer(serializers.Serializer):
        customer_po_number = serializers.CharField(
            max_length=50,
            required=False,
            allow_blank=True,
            default="",
            help_text="Your PO number for the order (unique in your company); the quote number when blank.",
        )
        ship_to_id = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=1,
            max_value=BIGINT_MAX,
            help_text="One of your company's addresses; the default address when left out.",
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OpenApiResponse(
                QuoteOutput,
                description="The quote, ordered, with its purchase_order (which goes through the company's "
                "approval rules and credit check as any order). A retry with the same Idempotency-Key "
                "and body returns the same quote and order.",
            ),
            400: validation_error_response(
                {"customer_po_number": MESSAGES, "ship_to_id": MESSAGES, IDEMPOTENCY_KEY: MESSAGES}
            ),
            **ACTION_RESPONSES,
            409: OpenApiResponse(
                CONFLICT.response,
                description="Out of turn, not offered, or expired (the quote is expired afterwards); the "
                "Idempotency-Key used with a different request; or the quote already ordered by an earlier "
                "accept without this key: detail names that order, also given as purchase_order_id and "
                "po_number.",
            ),
        },
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="quotes_accept",
    )
    def post(self, request: Request, quote_id: int) -> Response:
        """Accept the offer on the table: exactly one purchase order at the offered prices."""
        membership = _membership(request, act=True)
        quote = _quote(request, quote_id)

        def validate() -> Callable[[Quote | None], Quote]:
            data = _valid(self.InputSerializer(data=request.data))
            ship_to = None
            if data.get("ship_to_id") is not None:
                ship_to = selectors.quote_ship_to_get(
                    company=membership.company, ship_to_id=data["ship_to_id"]
                )
                if ship_to is None:
                    raise ValidationError({"ship_to_id": ["No such ship-to address in your company."]})
            return lambda locked: services.quote_accept_first(
                quote=quote,
                actor=_user(request),
                customer_po_number=data["customer_po_number"],
                ship_to=ship_to,
            )

        return _once(request, membership, Action.ACCEPT, quote, validate)


class QuoteCloseApi(APIView):
    @extend_schema_serializer(component_name="QuoteCloseInput")
    class InputSerializer(serializers.Serializer):
        message = serializers.CharField(
            max_length=MAX_MESSAGE_LENGTH, required=False, allow_blank=True, default=""
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            200: QuoteOutput,
            400: validation_error_response({"message": MESSAGES, IDEMPOTENCY_KEY: MESSAGES}),
            **ACTION_RESPONSES,
        },
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="quotes_close",
    )
    def post(self, request: Request, quote_id: int) -> Response:
        """Turn the offer down: the quote is closed."""
        membership = _membership(request, act=True)
        quote = _quote(request, quote_id)

        def validate() -> Callable[[Quote | None], Quote]:
            data = _valid(self.InputSerializer(data=request.data))
            return lambda locked: services.quote_close(
                quote=quote, actor=_user(request), message=data["message"]
            )

        return _once(request, membership, Action.CLOSE, quote, validate)
