"""Quote reads, each scoped to who asks: a buyer sees their company's quotes (never the seller's drafts),
an account manager the quotes of the companies they manage (a portal admin all)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from apps.accounts.models import Membership
from apps.core.staff import StaffRole, user_staff_roles
from apps.quotes.models import TURN, Quote, Side


def quote_list_for_user(*, user: User) -> QuerySet[Quote]:
    quotes = Quote.objects.select_related("company", "account_manager", "created_by", "purchase_order")
    membership = Membership.objects.active().filter(user=user).first()
    if membership is not None:
        return quotes.filter(company_id=membership.company_id).exclude(status=Quote.Status.DRAFT)
    roles = user_staff_roles(user)
    if StaffRole.ADMIN in roles:
        return quotes
    if StaffRole.ACCOUNT_MANAGER in roles:
        return quotes.filter(company__account_manager_id=user.pk)
    return quotes.none()


def quote_get_for_user(*, user: User, quote_id: int) -> Quote:
    """One quote with its versions, lines and thread; ``Quote.DoesNotExist`` when not the user's."""
    return (
        quote_list_for_user(user=user)
        .prefetch_related(
            "request_lines__product", "versions__lines__product", "versions__lines__breaks", "events__actor"
        )
        .get(pk=quote_id)
    )


def quote_queue_for_manager(*, user: User) -> QuerySet[Quote]:
    """The quotes waiting for the seller, the longest waiting first (``updated_at``: the last move)."""
    waiting = [status for status, side in TURN.items() if side == Side.SELLER]
    return quote_list_for_user(user=user).filter(Q(status__in=waiting)).order_by("updated_at", "id")
