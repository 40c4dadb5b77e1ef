from __future__ import annotations

from apps.core.exceptions import ApplicationError


class InvalidTransition(ApplicationError):
    pass


class PurchaseOrderError(ApplicationError):
    pass
