from __future__ import annotations

from apps.core.exceptions import ApplicationError


class CreditError(ApplicationError):
    pass
