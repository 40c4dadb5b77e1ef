from __future__ import annotations

from apps.core.exceptions import ApplicationError
from apps.erp.connectors.base import ErpError


class InvalidJobAction(ApplicationError):
    pass


class JobHandlerError(ErpError):
    """The portal's own code raised while handling a job (a bug, a lost race, a database error): the job
    is retried with backoff like a transient ERP error, and dead-lettered when its attempts run out."""


class InvalidDriftAction(ApplicationError):
    """A fix that does not fit a drift: no reason to accept it, a drift already accepted or resolved, an
    entity with no stream to re-pull from or no job to re-push with."""
