"""What every API of the portal shares: domain errors mapped to HTTP in one handler, the JSON 404, the
response shapes of the schema."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.exceptions import ApplicationError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map domain errors to HTTP in one place: Django validation and ApplicationError become 400s."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "extra": exc.extra}, status=400)
    return drf_exception_handler(exc, context)


@csrf_exempt
def not_found(request: HttpRequest) -> JsonResponse:
    """Any other address under /api/ (an order id that is no number, a typo): JSON like the API's own 404s,
    not the web pages' HTML. CSRF-exempt as the API's views are: a token client's POST to a quote id that
    is no number gets this 404, not the CSRF failure page (it changes nothing)."""
    return JsonResponse({"detail": "Not found."}, status=404)


# --- The JSON bodies of error responses, as the OpenAPI schema declares them -------------------------------

MESSAGES: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
DETAIL: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}


def detail_response(description: str) -> OpenApiResponse:
    """401, 403, 404, 409: ``{"detail": "why"}``."""
    return OpenApiResponse(response=DETAIL, description=description)


def validation_error_response(fields: dict[str, Any] | None = None) -> OpenApiResponse:
    """400: each refused input field (or header) with its reasons, ``{"field": ["reason", ...]}``.

    ``detail`` says what is wrong with the request as a whole: a string for a body that is not JSON,
    a list of reasons (or a string and ``extra``) when the request was read but cannot be carried out.
    """
    return OpenApiResponse(
        response={
            "type": "object",
            "properties": {
                "detail": {"anyOf": [{"type": "string"}, MESSAGES]},
                "extra": {"type": "object", "additionalProperties": True},
                **(fields or {}),
            },
            "additionalProperties": MESSAGES,
        },
        description="The request was refused; nothing was created. Each refused field names its reasons.",
    )
