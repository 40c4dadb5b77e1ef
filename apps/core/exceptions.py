from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A failure a person can act on; views show ``message``, the API maps it to a 400."""

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class PermissionDenied(ApplicationError):
    pass
