"""Quote reads, each scoped to who asks: a buyer sees their company's quotes (never the seller's drafts,
nor a version still waiting for its second approval, nor the seller's own thread rows), an account manager
the quotes of the companies they manage (a portal admin all), an approver the offers waiting for them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.utils import timezone

from apps.accounts.models import Company, Membership, ShipToAddress
from apps.catalog.models import Product
from apps.catalog.selectors import products_by_sku
from apps.core.money import quantize_amount
from apps.core.staff import StaffRole, user_in_quote_approvers, user_staff_roles
from apps.erp.models import SyncEvent, SyncJob
from apps.erp.selectors import SyncState, sync_states_for
from apps.erp.services import capabilities_get
from apps.pricing.selectors import price_resolve_many
from apps.purchase_orders.models import PurchaseOrder
from apps.quotes import pricing
from apps.quotes.erp import QUOTE_PUSH
from apps.quotes.models import (
    TURN,
    Quote,
    QuoteEvent,
    QuoteIdempotencyRecord,
    QuoteLine,
    QuoteRequestLine,
    QuoteVersion,
    Side,
)


def _buyer_company_id(user: User) -> int | None:
    membership = Membership.objects.active().filter(user=user).first()
    return membership.company_id if membership is not None else None


def quote_list_for_user(*, user: User) -> QuerySet[Quote]:
    """The quotes ``user`` may see. A buyer's come with only the versions put before them (``versions``
    prefetched: those needing no approval and the approved ones)."""
    quotes = Quote.objects.select_related("company", "account_manager", "created_by", "purchase_order")
    company_id = _buyer_company_id(user)
    if company_id is not None:
        return (
            quotes.filter(company_id=company_id)
            .exclude(status=Quote.Status.DRAFT)
            .prefetch_related(Prefetch("versions", queryset=QuoteVersion.objects.offered()))
        )
    roles = user_staff_roles(user)
    if StaffRole.ADMIN in roles:
        return quotes
    if StaffRole.ACCOUNT_MANAGER in roles:
        return quotes.filter(company__account_manager_id=user.pk)
    return quotes.none()


def quote_get_for_user(*, user: User, quote_id: int) -> Quote:
    """One quote with its versions, lines and thread; ``Quote.DoesNotExist`` when not the user's. For a
    buyer, the versions are the offered ones and the thread leaves out the seller's own rows (show the
    state with ``Quote.status_for(Side.BUYER)``)."""
    is_buyer = _buyer_company_id(user) is not None
    events = QuoteEvent.objects.select_related("actor")
    return (
        quote_list_for_user(user=user)
        .prefetch_related(
            "request_lines__product",
            "versions__lines__product",
            "versions__lines__breaks",
            Prefetch("events", queryset=events.filter(seller_only=False) if is_buyer else events),
        )
        .get(pk=quote_id)
    )


def quote_queue_for_manager(*, user: User) -> QuerySet[Quote]:
    """The quotes waiting for the seller, the longest waiting first (``updated_at``: the last move). A
    quote awaiting approval waits for an approver (``quote_approvals_waiting``), not here."""
    waiting = [
        status
        for status, side in TURN.items()
        if side == Side.SELLER and status != Quote.Status.AWAITING_APPROVAL
    ]
    return quote_list_for_user(user=user).filter(Q(status__in=waiting)).order_by("updated_at", "id")


def user_is_quote_approver(*, user: User) -> bool:
    """A portal admin or an active member of ``QUOTE_DISCOUNT_APPROVERS_GROUP``; never a customer's member."""
    if not user.is_active or Membership.objects.active().filter(user=user).exists():
        return False
    return user_in_quote_approvers(user)


def quote_approvals_waiting(*, user: User) -> QuerySet[Quote]:
    """The quotes whose offer waits for a second approval that ``user`` may give (not their own offers),
    the longest waiting first; each annotated with ``waiting_version`` (its number) and ``offered_by_id``
    of that version."""
    if not user_is_quote_approver(user=user):
        return Quote.objects.none()
    latest = QuoteVersion.objects.filter(quote=OuterRef("pk")).order_by("-number")
    return (
        Quote.objects.filter(status=Quote.Status.AWAITING_APPROVAL)
        .select_related("company", "account_manager")
        .annotate(
            waiting_version=Subquery(latest.values("number")[:1]),
            waiting_offered_by_id=Subquery(latest.values("offered_by")[:1]),
        )
        .exclude(waiting_offered_by_id=user.pk)
        .order_by("updated_at", "id")
    )


@dataclass(frozen=True)
class OfferPricingRow:
    """What the seller sees of one line when pricing an offer: the list price, what the company pays
    without the quote (tier, contract or list: ``reference_source``), the ERP's cost (None: none) and the
    price last offered to the buyer (None: never offered)."""

    product: Product
    quantity: Decimal
    list_price: Decimal
    reference_price: Decimal
    reference_source: str
    cost_price: Decimal | None
    last_offered_price: Decimal | None

    @property
    def reference_margin(self) -> Decimal | None:
        return pricing.margin(self.reference_price, self.cost_price)

    @property
    def last_offered_discount(self) -> Decimal | None:
        if self.last_offered_price is None:
            return None
        return pricing.discount(self.last_offered_price, self.reference_price)

    @property
    def last_offered_margin(self) -> Decimal | None:
        if self.last_offered_price is None:
            return None
        return pricing.margin(self.last_offered_price, self.cost_price)


def quote_offer_pricing(*, quote: Quote, now: datetime | None = None) -> list[OfferPricingRow]:
    """The lines the seller prices next, with their prices today: the last version's lines (product and
    quantity as last offered) and then any requested product not in it, each with the price the buyer was
    last offered (the latest version put before them). A fixed number of queries, whatever the lines."""
    today = (now or timezone.now()).astimezone(ZoneInfo(quote.time_zone)).date()
    versions = list(quote.versions.order_by("-number").prefetch_related("lines__product"))
    wanted: dict[int, tuple[Product, Decimal]] = {}
    if versions:
        for line in versions[0].lines.all():
            wanted[line.product_id] = (line.product, line.quantity)
    for request in quote.request_lines.select_related("product"):
        wanted.setdefault(request.product_id, (request.product, request.quantity))
    offered = next((version for version in versions if version.is_offered), None)
    last_prices = {line.product_id: line.unit_price for line in offered.lines.all()} if offered else {}
    products = [product for product, _ in wanted.values()]
    references = price_resolve_many(
        account=quote.company,
        products=products,
        quantity={product_id: quantity for product_id, (_, quantity) in wanted.items()},
        on_date=today,
    )
    return [
        OfferPricingRow(
            product=product,
            quantity=quantity,
            list_price=product.list_price,
            reference_price=references[product.pk].unit_price,
            reference_source=references[product.pk].source,
            cost_price=product.cost_price,
            last_offered_price=last_prices.get(product.pk),
        )
        for product, quantity in wanted.values()
    ]


def quote_list_with_request_lines(*, user: User) -> QuerySet[Quote]:
    """The user's quotes with their request lines (and, for a buyer, the versions put before them, as
    ``quote_list_for_user`` gives them): a page of them in a fixed number of queries."""
    return quote_list_for_user(user=user).prefetch_related(
        Prefetch("request_lines", queryset=QuoteRequestLine.objects.select_related("product"))
    )


def quote_products_find(
    *, skus: Iterable[str], ids: Iterable[int]
) -> tuple[dict[str, Product], dict[int, Product]]:
    """Products asked for by SKU (any case; keyed upper-case) or by id, active or not."""
    return products_by_sku(skus), Product.objects.in_bulk(set(ids))


def quote_ship_to_get(*, company: Company, ship_to_id: int) -> ShipToAddress | None:
    return ShipToAddress.objects.filter(company=company, is_active=True, pk=ship_to_id).first()


def quote_idempotency_record_get(*, company: Company, key: str, action: str) -> QuoteIdempotencyRecord | None:
    """The API action this Idempotency-Key was used for, if any."""
    return QuoteIdempotencyRecord.objects.filter(company=company, key=key, action=action).first()


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


def quote_list_summarised(quotes: QuerySet[Quote], *, side: Side) -> QuerySet[Quote]:
    """Each quote with its last move (the newest thread row ``side`` may see) and its newest version put
    before ``side`` (for the buyer: no version still waiting for its second approval), as columns."""
    last = QuoteEvent.objects.filter(quote=OuterRef("pk")).order_by("-at", "-id")
    newest = QuoteVersion.objects.filter(quote=OuterRef("pk")).order_by("-number")
    if side == Side.BUYER:
        last = last.filter(seller_only=False)
        newest = newest.offered()
    return quotes.annotate(
        last_move_status=Subquery(last.values("to_status")[:1]),
        last_move_side=Subquery(last.values("side")[:1]),
        last_move_at=Subquery(last.values("at")[:1]),
        latest_version_id=Subquery(newest.values("pk")[:1]),
        latest_valid_until=Subquery(newest.values("valid_until")[:1]),
    )


def version_totals(version_ids: Iterable[int]) -> dict[int, Decimal]:
    """The offered total of each version (quantity times unit price per line, at currency precision), in
    one query."""
    amount = ExpressionWrapper(F("quantity") * F("unit_price"), output_field=DecimalField())
    rows = (
        QuoteLine.objects.filter(version_id__in=[pk for pk in version_ids if pk])
        .values("version_id")
        .annotate(total=Sum(amount))
    )
    return {row["version_id"]: quantize_amount(row["total"]) for row in rows}


def quote_changes_token(*, user: User, quote_id: int | None = None) -> str:
    """What an open quote page (``quote_id``) or list shows has changed when this changes: the quotes'
    last moves, and for one quote its order's state as well (one small query, no rows loaded)."""
    quotes = quote_list_for_user(user=user)
    if quote_id is not None:
        row = (
            quotes.filter(pk=quote_id)
            .values_list("updated_at", "purchase_order__updated_at", "purchase_order__status")
            .first()
        )
        return "-" if row is None else _token(row)
    summary = quotes.aggregate(count=Count("pk"), last=Max("updated_at"))
    return _token((summary["count"], summary["last"]))


def _token(values: Iterable[object]) -> str:
    return hashlib.sha256("|".join(str(value) for value in values).encode()).hexdigest()[:16]
