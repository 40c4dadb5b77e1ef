from __future__ import annotations

from apps.quotes.services import quotes_expire_due


def expire_due() -> int:
    """Scheduled (apps.core.services.SCHEDULES): expire the offers whose valid-until day has ended."""
    return quotes_expire_due()
