from __future__ import annotations

from apps.core.exceptions import ApplicationError


class InvitationError(ApplicationError):
    pass


class MembershipError(ApplicationError):
    pass


class ActingError(ApplicationError):
    pass
