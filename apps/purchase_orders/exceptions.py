from __future__ import annotations

from typing import Any

from apps.core.exceptions import ApplicationError


class InvalidTransition(ApplicationError):
    pass


class PurchaseOrderError(ApplicationError):
    pass


class LineNotFound(PurchaseOrderError):
    """No such line on the order (another draft's, or removed meanwhile)."""


class OrderRequestRefused(PurchaseOrderError):
    """An order placed in one request (the API) was refused; ``errors`` says what, field by field, in the
    API's shape: ``{"po_number": ["…"]}``, ``{"lines": {"<index>": ["…"]}}``, ``{"detail": ["…"]}``."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("The order was refused.", extra={"errors": errors})
        self.errors = errors
