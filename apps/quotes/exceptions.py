from __future__ import annotations

from apps.core.exceptions import ApplicationError


class QuoteError(ApplicationError):
    pass


class InvalidTransition(QuoteError):
    """The quote's state does not allow the move."""


class NotYourTurn(QuoteError):
    """The other side holds the quote: it waits for them, not for you."""


class QuoteForbidden(QuoteError):
    """The person is on neither side of this quote (another company's buyer, another manager)."""


class QuoteExpired(QuoteError):
    """The offer ran out at the end of its valid-until day; the quote is now expired."""


class OfferRefused(QuoteError):
    """An offer with a price of zero or less, a valid-until in the past, or no lines."""


class ImmutableVersion(QuoteError):
    """An offered version is never changed; the next offer is a new version."""


class QuoteAlreadyOrdered(QuoteError):
    """A second accept of a quote its order was already made from (without the first accept's key)."""


class IdempotencyConflict(QuoteError):
    """An Idempotency-Key already used for another request."""


class OrderNumberTaken(QuoteError):
    """The company already has an order with the PO number the accept would give."""
