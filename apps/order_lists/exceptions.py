from __future__ import annotations

from apps.core.exceptions import ApplicationError


class OrderListError(ApplicationError):
    pass


class OrderListReadOnly(OrderListError):
    """The user may see the list but not change it."""
