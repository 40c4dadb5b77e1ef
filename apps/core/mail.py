"""Mail sent by domain services: only once their transaction commits, never for a change rolled back."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.mail import send_mail
from django.db import transaction


def mail_on_commit(*, subject: str, body: str, recipients: Iterable[str]) -> None:
    """Send one plain-text mail to ``recipients``, in their order (repeated and empty addresses dropped),
    after the commit; nothing when no one is left."""
    to = list(dict.fromkeys(address for address in recipients if address))
    if to:
        transaction.on_commit(
            lambda: send_mail(subject=subject, message=body, from_email=None, recipient_list=to)
        )
