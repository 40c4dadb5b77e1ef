"""Emails on each turn: when a quote moves to the other side (or ends), that side hears of it after the
commit. The buyer side is the company's active buyers and admins (those who can act on a quote); the
seller side is the quote's account manager (the company's, or the portal admins when it has none)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q
from django.urls import reverse

from apps.accounts.models import Membership, Role
from apps.core.mail import mail_on_commit
from apps.core.staff import STAFF_GROUP_NAMES, StaffRole, staff_emails
from apps.quotes.models import Quote, QuoteEvent, QuoteVersion, Side

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


def approver_emails(*, besides: int) -> list[str]:
    """Who can give an offer its second approval (the quote approvers group and the portal admins), less
    the offer's maker and anyone who is a customer's member."""
    groups = [settings.QUOTE_DISCOUNT_APPROVERS_GROUP, STAFF_GROUP_NAMES[StaffRole.ADMIN]]
    people = (
        User.objects.filter(Q(groups__name__in=groups) | Q(is_superuser=True), is_active=True)
        .exclude(email="")
        .exclude(pk=besides)
        .exclude(pk__in=Membership.objects.active().values("user_id"))
    )
    return sorted(set(people.values_list("email", flat=True)))


def _link(name: str, **kwargs: int) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name, kwargs=kwargs)


def _approval_notify(quote: Quote, event: QuoteEvent) -> bool:
    """The second approval's own mails, seller side only: the approvers hear of an offer waiting for them,
    its maker of the decision. True when ``event`` was one of these moves."""
    version: QuoteVersion | None = event.version
    if version is None:
        return False
    maker = version.offered_by
    if event.to_status == Status.AWAITING_APPROVAL:
        mail_on_commit(
            subject=f"Quote {quote.number} v{version.number} waits for your approval",
            body=(
                f"{maker.get_full_name() or maker.email} offered {quote.company.name} prices past the "
                f"discount that needs a second approval.\n{event.message}\n"
                f"Approve or send it back: {_link('quote-approvals')}\n"
            ),
            recipients=approver_emails(besides=maker.pk),
        )
        return True
    if event.from_status != Status.AWAITING_APPROVAL or not maker.is_active or not maker.email:
        return False
    # The version was read before the approval stamped it: ask again who approved it.
    approved_by = QuoteVersion.objects.filter(pk=version.pk).values_list("approved_by", flat=True).first()
    approver = User.objects.filter(pk=approved_by).first() if approved_by else None
    if event.to_status == Status.OFFERED and approver is not None:
        subject = f"Quote {quote.number} v{version.number} approved"
        said = f"{approver.get_full_name() or approver.email} approved it; the buyer has the offer now."
    elif event.to_status == Status.IN_REVIEW and event.actor_id != maker.pk:
        who = event.actor.get_full_name() or event.actor.email if event.actor else "An approver"
        subject = f"Quote {quote.number} v{version.number} sent back"
        said = f"{who} sent it back: {event.message}\nOffer a new version."
    else:
        return event.to_status == Status.IN_REVIEW  # the maker withdrew it: nobody to tell
    mail_on_commit(
        subject=subject,
        body=f"{said}\nOpen the quote: {_link('quote-detail', quote_id=quote.pk)}\n",
        recipients=[maker.email],
    )
    return event.to_status == Status.IN_REVIEW  # an approved offer still goes to the buyer below


def quote_turn_notify(*, quote: Quote, event: QuoteEvent) -> None:
    """Called for every move of a quote (``services._transition`` and the request); mails go on commit,
    so a refused or rolled-back move sends nothing."""
    if _approval_notify(quote, event):
        return
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
