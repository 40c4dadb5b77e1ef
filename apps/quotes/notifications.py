"""Emails on each turn: when a quote moves to the other side (or ends), that side hears of it after the
commit. The buyer side is the company's active buyers and admins (those who can act on a quote); the
seller side is the quote's account manager (the company's, or the portal admins when it has none)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from apps.accounts.models import Membership, Role
from apps.core.mail import mail_on_commit
from apps.core.staff import StaffRole, staff_emails
from apps.quotes.models import Quote, QuoteEvent, Side

Status = Quote.Status
BUYING_ROLES = (Role.BUYER, Role.ADMIN)

# What the other side reads in the subject, per new state.
HEADLINES: dict[str, str] = {
    Status.SUBMITTED: "asks for a quote",
    Status.IN_REVIEW: "countered the offer",
    Status.OFFERED: "has an offer for you",
    Status.ORDERED: "was accepted and ordered",
    Status.DECLINED: "was declined",
    Status.CLOSED: "was closed by the buyer",
    Status.EXPIRED: "expired",
}


def buyer_emails(quote: Quote) -> list[str]:
    return sorted(
        set(
            Membership.objects.active()
            .filter(company_id=quote.company_id, role__in=BUYING_ROLES, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def seller_emails(quote: Quote) -> list[str]:
    manager = quote.account_manager or quote.company.account_manager
    if manager is not None and manager.is_active and manager.email:
        return [manager.email]
    return staff_emails(role=StaffRole.ADMIN)


def _recipients(quote: Quote, event: QuoteEvent) -> list[str]:
    """The side that did not act; both when the portal acted (expiry) or the quote became an order."""
    if (
        event.seller_only
        or event.to_status not in HEADLINES
        or (event.to_status == Status.IN_REVIEW and event.side != Side.BUYER)
    ):
        return []  # the seller taking a quote up, a draft, or an accept on its way to ordered: no turn change
    if not event.side or event.to_status == Status.ORDERED:
        return [*buyer_emails(quote), *seller_emails(quote)]
    return seller_emails(quote) if event.side == Side.BUYER else buyer_emails(quote)


def quote_turn_notify(*, quote: Quote, event: QuoteEvent) -> None:
    """Called for every move of a quote (``services._transition`` and the request); mails go on commit,
    so a refused or rolled-back move sends nothing."""
    recipients = _recipients(quote, event)
    if not recipients:
        return
    who = event.actor.get_full_name() or event.actor.email if event.actor else "The portal"
    link = settings.SITE_URL.rstrip("/") + reverse("quote-detail", kwargs={"quote_id": quote.pk})
    lines = [
        f"Quote {quote.number} for {quote.company.name} is now {Status(event.to_status).label.lower()}.",
        f"{who} wrote: {event.message}" if event.message else f"By {who}.",
    ]
    if quote.turn is not None:
        lines.append(
            "It is now the buyer's turn." if quote.turn == Side.BUYER else "It is now the seller's turn."
        )
    lines.append(f"Open the quote: {link}")
    mail_on_commit(
        subject=f"Quote {quote.number} {HEADLINES[event.to_status]}",
        body="\n".join(lines) + "\n",
        recipients=recipients,
    )
