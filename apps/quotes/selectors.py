"""Quote reads, each scoped to who asks: a buyer sees their company's quotes (never the seller's drafts),
an account manager the quotes of the companies they manage (a portal admin all)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db.models import Max, Q, QuerySet

from apps.accounts.models import Membership
from apps.core.staff import StaffRole, user_staff_roles
from apps.erp.models import SyncEvent, SyncJob
from apps.erp.selectors import SyncState, sync_states_for
from apps.erp.services import capabilities_get
from apps.purchase_orders.models import PurchaseOrder
from apps.quotes.erp import QUOTE_PUSH
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


def _combined(states: list[SyncState]) -> SyncState:
    for wanted in ("failed", "pending"):
        found = [state for state in states if state.state == wanted]
        if found:
            return found[-1]
    synced = [state for state in states if state.state == "synced"]
    if synced:
        return max(synced, key=lambda state: state.at or datetime.min.replace(tzinfo=UTC))
    return SyncState("never")


def _quote_state(quote: Quote) -> SyncState:
    """The quote's own badge. A failed push of an earlier version is moot once a later push went through
    (each push sends the latest version), so it no longer shows."""
    state = sync_states_for(Quote, [quote.pk])[str(quote.pk)]
    if state.state != "failed":
        return state
    jobs = list(
        SyncJob.objects.filter(target_type=ContentType.objects.get_for_model(Quote), target_id=str(quote.pk))
    )
    pushed = max(
        (job.pk for job in jobs if job.kind == QUOTE_PUSH and job.status == SyncJob.Status.SUCCEEDED),
        default=0,
    )
    failing = [
        job
        for job in sorted(jobs, key=lambda job: job.pk)
        if job.status in (SyncJob.Status.FAILED, SyncJob.Status.DEAD)
        and not (job.kind == QUOTE_PUSH and job.pk < pushed)
    ]
    if failing:
        return SyncState("failed", failing[-1].updated_at, failing[-1].last_error)
    done = SyncEvent.objects.filter(
        job__in=[job for job in jobs if job.status == SyncJob.Status.SUCCEEDED],
        outcome=SyncEvent.Outcome.SUCCEEDED,
    ).aggregate(at=Max("created_at"))["at"]
    return SyncState("synced", done)


def quote_sync_context(quote: Quote, limit: int = 50) -> dict[str, Any]:
    """What the quote page needs for the ERP: ``sync_state`` (for ``erp/_sync_badge.html`` as ``state``),
    ``events`` (``erp/_timeline.html``) and ``erp_keeps_quotes``. Once ordered, the quote's order is part
    of it: its push confirms the quotation, so its badge and timeline are the quote's too."""
    records: list[tuple[type[Quote] | type[PurchaseOrder], int]] = [(Quote, quote.pk)]
    if quote.purchase_order_id is not None:
        records.append((PurchaseOrder, quote.purchase_order_id))
    states = [_quote_state(quote)]
    states += [sync_states_for(model, [pk])[str(pk)] for model, pk in records[1:]]
    wanted = Q(pk__in=[])
    for model, pk in records:
        wanted |= Q(target_type=ContentType.objects.get_for_model(model), target_id=str(pk))
    return {
        "sync_state": _combined(states),
        "events": SyncEvent.objects.filter(wanted).select_related("job")[:limit],
        "erp_keeps_quotes": capabilities_get().quotes,
    }
