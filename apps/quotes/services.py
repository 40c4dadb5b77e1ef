"""Quote writes: the request, one service per transition, the second approval of a deep discount, and the
accept that makes the order.

Every action first expires an offer whose valid-until day has ended (in its own transaction, so the
expiry stays when the action is then refused with ``QuoteExpired``), then locks the quote row, checks
who is acting and whose turn it is, and moves the quote through ``_transition``, which writes the thread
row. A refused action changes nothing else."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import uuid4
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Company, Membership, Role, ShipToAddress
from apps.catalog.models import Product
from apps.core.exceptions import ApplicationError
from apps.core.money import PRICE_DECIMAL_PLACES, PRICE_MAX_DIGITS, quantize_price
from apps.core.staff import StaffRole, user_staff_roles
from apps.pricing.selectors import PriceQuote, price_resolve_many
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from apps.purchase_orders.quantities import MAX_QUANTITY
from apps.purchase_orders.services import purchase_order_cancel, purchase_order_submit_and_route
from apps.quotes import pricing
from apps.quotes.erp import quote_erp_follow
from apps.quotes.exceptions import (
    IdempotencyConflict,
    InvalidTransition,
    NotYourTurn,
    OfferRefused,
    OrderNumberTaken,
    QuoteAlreadyOrdered,
    QuoteError,
    QuoteExpired,
    QuoteForbidden,
)
from apps.quotes.models import (
    Quote,
    QuoteEvent,
    QuoteIdempotencyRecord,
    QuoteLine,
    QuoteLineBreak,
    QuoteRequestLine,
    QuoteVersion,
    Side,
)
from apps.quotes.notifications import quote_turn_notify
from apps.quotes.selectors import user_is_quote_approver

Status = Quote.Status
BUYING_ROLES = (Role.BUYER, Role.ADMIN)
PRICE_LIMIT = Decimal(10) ** (
    PRICE_MAX_DIGITS - PRICE_DECIMAL_PLACES
)  # what a unit price column holds  # approvers and viewers read quotes but do not negotiate them


# --- Time ----------------------------------------------------------------------------------------------


def company_time_zone(company: Company) -> str:
    """The time zone a company's days are counted in (its own, PORTAL_TIME_ZONE by default)."""
    return company.time_zone or str(settings.TIME_ZONE)


def offer_end(valid_until: date, time_zone: str) -> datetime:
    """The moment an offer valid until ``valid_until`` runs out: the next local midnight."""
    return datetime.combine(valid_until + timedelta(days=1), time(0), tzinfo=ZoneInfo(time_zone))


def local_today(time_zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(time_zone)).date()


# --- Who acts ------------------------------------------------------------------------------------------


def side_of(*, quote: Quote, user: User) -> Side:
    """Which side of the quote ``user`` is on: a buying member of its company, or its account manager
    (a portal admin may stand in for the manager). Anyone else is refused."""
    membership = Membership.objects.active().filter(user=user, company_id=quote.company_id).first()
    if membership is not None and membership.role in BUYING_ROLES:
        return Side.BUYER
    is_seller = quote.company.account_manager_id == user.pk or StaffRole.ADMIN in user_staff_roles(user)
    if membership is None and user.is_active and is_seller:
        return Side.SELLER
    raise QuoteForbidden("This quote is not yours to act on.")


def _check_turn(quote: Quote, side: Side) -> None:
    if quote.is_final:
        raise InvalidTransition(
            f"This quote is {quote.get_status_display().lower()}; nothing more can be done."
        )
    if quote.turn != side:
        waiting = "the account manager" if quote.turn == Side.SELLER else "the buyer"
        raise NotYourTurn(f"Quote {quote.number} is waiting for {waiting}, not for you.")


# --- Transitions ---------------------------------------------------------------------------------------


def _transition(
    quote: Quote,
    to: Status,
    *,
    actor: User | None,
    side: Side | None,
    message: str = "",
    version: QuoteVersion | None = None,
    seller_only: bool = False,
) -> Quote:
    """Move a locked quote and write the thread row; an illegal move raises and changes nothing."""
    if not quote.can_transition_to(to):
        raise InvalidTransition(
            f"A {quote.get_status_display().lower()} quote cannot become {Status(to).label.lower()}."
        )
    event = QuoteEvent.objects.create(
        quote=quote,
        version=version,
        actor=actor,
        side=side or "",
        from_status=quote.status,
        to_status=to,
        message=message,
        seller_only=seller_only,
    )
    quote.status = to
    fields = ["status", "updated_at"]
    if to != Status.OFFERED and quote.expires_at is not None:
        quote.expires_at = None
        fields.append("expires_at")
    quote.save(update_fields=fields)
    quote_erp_follow(quote, to)
    quote_turn_notify(quote=quote, event=event)
    return quote


def _locked(quote: Quote) -> Quote:
    """The quote row locked (its company read along, not locked: the order's own submit locks that)."""
    return Quote.objects.select_for_update(of=("self",)).select_related("company").get(pk=quote.pk)


def _is_due(quote: Quote, now: datetime) -> bool:
    return quote.status == Status.OFFERED and quote.expires_at is not None and quote.expires_at <= now


@transaction.atomic
def quote_expire(*, quote: Quote, now: datetime | None = None) -> Quote:
    """Expire an offered quote whose valid-until day has ended (in the company's time zone); a quote
    not yet due, or no longer offered, is left as it is."""
    now = now or timezone.now()
    locked = _locked(quote)
    if not _is_due(locked, now):
        return locked
    version = locked.versions.order_by("-number").first()
    valid_until = f" (valid until {version.valid_until:%Y-%m-%d})" if version else ""
    return _transition(
        locked,
        Status.EXPIRED,
        actor=None,
        side=None,
        message=f"The offer ran out{valid_until}.",
        version=version,
    )


def quotes_expire_due(now: datetime | None = None) -> int:
    """The scheduled job: expire every offered quote past its end; returns how many expired. Each quote
    in its own transaction, so one busy row does not hold up the rest."""
    now = now or timezone.now()
    count = 0
    due = Quote.objects.filter(status=Status.OFFERED, expires_at__lte=now).values_list("pk", flat=True)
    for pk in list(due):
        if quote_expire(quote=Quote(pk=pk), now=now).status == Status.EXPIRED:
            count += 1
    return count


def _act(quote: Quote, user: User, now: datetime) -> tuple[Quote, Side]:
    """The start of every action, inside its transaction: lock, refuse an expired offer, know the side."""
    locked = _locked(quote)
    side = side_of(quote=locked, user=user)
    if _is_due(locked, now) or locked.status == Status.EXPIRED:
        raise QuoteExpired(f"The offer on quote {locked.number} has expired; ask for a new quote.")
    return locked, side


def _expire_first(quote: Quote, now: datetime) -> None:
    """Expire a due offer in a transaction of its own, committed before the action's (which then
    refuses): the expiry is kept even though the action raises."""
    with transaction.atomic():
        quote_expire(quote=quote, now=now)


# --- Request and start ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestedLine:
    product: Product
    quantity: Decimal
    note: str = ""


def _new_quote(*, company: Company, created_by: User, message: str, wanted_date: date | None) -> Quote:
    quote = Quote.objects.create(
        company=company,
        number=uuid4().hex[:20],  # replaced by the human number once the row has its id
        created_by=created_by,
        account_manager=company.account_manager,
        message=message,
        wanted_date=wanted_date,
        time_zone=company_time_zone(company),
    )
    quote.number = f"Q-{quote.pk:06d}"
    quote.save(update_fields=["number"])
    return quote


def _add_lines(quote: Quote, lines: Sequence[RequestedLine]) -> None:
    if not lines:
        raise QuoteError("Add at least one product to ask a price for.")
    seen: set[int] = set()
    for line in lines:
        if line.product.pk in seen:
            raise QuoteError(f"{line.product.sku} is listed twice; give it once with the whole quantity.")
        if not line.quantity.is_finite() or line.quantity <= 0 or line.quantity > MAX_QUANTITY:
            raise QuoteError(
                f"{line.product.sku}: the quantity must be more than zero and at most {MAX_QUANTITY:,}."
            )
        if not line.product.is_active:
            raise QuoteError(f"{line.product.sku} is no longer sold.")
        seen.add(line.product.pk)
    QuoteRequestLine.objects.bulk_create(
        QuoteRequestLine(quote=quote, product=line.product, quantity=line.quantity, note=line.note[:200])
        for line in lines
    )


@transaction.atomic
def quote_request(
    *,
    company: Company,
    buyer: User,
    message: str,
    wanted_date: date | None = None,
    lines: Sequence[RequestedLine] = (),
    from_draft: PurchaseOrder | None = None,
    now: datetime | None = None,
) -> Quote:
    """A buyer asks for prices: for the given lines, or for the lines of their draft order (which is then
    withdrawn: the quote takes its place). The quote is submitted, waiting for the account manager."""
    now = now or timezone.now()
    membership = Membership.objects.active().filter(user=buyer, company=company).first()
    if membership is None or membership.role not in BUYING_ROLES:
        raise QuoteForbidden("Only your company's buyers can ask for a quote.")
    if company.is_on_hold:
        raise QuoteError(f"{company.name} is on hold; ask finance before asking for a quote.")
    if wanted_date is not None and wanted_date < local_today(company_time_zone(company), now):
        raise QuoteError("Choose a wanted date of today or later.")
    if from_draft is not None:
        draft = PurchaseOrder.objects.select_for_update().get(pk=from_draft.pk)
        if (
            draft.company_id != company.pk
            or draft.buyer_id != buyer.pk
            or draft.status != PurchaseOrder.Status.DRAFT
        ):
            raise QuoteError("Only your own draft order can be turned into a quote.")
        lines = [
            RequestedLine(line.product, line.quantity, line.note)
            for line in draft.lines.select_related("product")
        ]
    quote = _new_quote(company=company, created_by=buyer, message=message, wanted_date=wanted_date)
    _add_lines(quote, lines)
    event = QuoteEvent.objects.create(
        quote=quote, actor=buyer, side=Side.BUYER, from_status="", to_status=Status.SUBMITTED, message=message
    )
    quote.status = Status.SUBMITTED
    quote.save(update_fields=["status", "updated_at"])
    quote_turn_notify(quote=quote, event=event)
    if from_draft is not None:
        purchase_order_cancel(
            purchase_order=from_draft, actor=buyer, note=f"turned into quote {quote.number}"
        )
    return quote


def quote_request_edit(
    *,
    quote: Quote,
    actor: User,
    lines: Sequence[RequestedLine],
    message: str,
    wanted_date: date | None = None,
    now: datetime | None = None,
) -> Quote:
    """The buyer changes what they asked for (lines, message, wanted date) while the quote is submitted,
    before the account manager takes it up; the thread records it. A refusal changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(quote)
        if side_of(quote=locked, user=actor) != Side.BUYER:
            raise NotYourTurn("Only the company's buyers can change what they asked for.")
        if locked.status != Status.SUBMITTED:
            raise InvalidTransition(
                f"Quote {locked.number} is {locked.get_status_display().lower()}: "
                "the request can only be changed before the account manager takes it up."
            )
        if wanted_date is not None and wanted_date < local_today(locked.time_zone, now):
            raise QuoteError("Choose a wanted date of today or later.")
        locked.request_lines.all().delete()
        _add_lines(locked, lines)
        locked.message = message
        locked.wanted_date = wanted_date
        locked.save(update_fields=["message", "wanted_date", "updated_at"])
        summary = ", ".join(f"{line.product.sku}: {line.quantity.normalize():f}" for line in lines)
        QuoteEvent.objects.create(
            quote=locked,
            actor=actor,
            side=Side.BUYER,
            message=f"Request changed: {summary}." + (f"\n{message}" if message else ""),
        )
        return locked


@transaction.atomic
def quote_start(
    *,
    company: Company,
    manager: User,
    lines: Sequence[RequestedLine],
    message: str = "",
    wanted_date: date | None = None,
    now: datetime | None = None,
) -> Quote:
    """An account manager starts a quote for a company they manage: a draft only the seller sees."""
    if not (company.account_manager_id == manager.pk or StaffRole.ADMIN in user_staff_roles(manager)):
        raise QuoteForbidden(f"You do not manage {company.name}.")
    if wanted_date is not None and wanted_date < local_today(
        company_time_zone(company), now or timezone.now()
    ):
        raise QuoteError("Choose a wanted date of today or later.")
    quote = _new_quote(company=company, created_by=manager, message=message, wanted_date=wanted_date)
    _add_lines(quote, lines)
    QuoteEvent.objects.create(
        quote=quote, actor=manager, side=Side.SELLER, from_status="", to_status=Status.DRAFT, message=message
    )
    return quote


# --- Seller ---------------------------------------------------------------------------------------------


def quote_review(*, quote: Quote, actor: User, message: str = "", now: datetime | None = None) -> Quote:
    """The seller takes the quote up: from now on the buyer can no longer change it."""
    now = now or timezone.now()
    _expire_first(quote, now)
    with transaction.atomic():
        locked, side = _act(quote, actor, now)
        _check_turn(locked, side)
        if locked.status == Status.AWAITING_APPROVAL:
            raise InvalidTransition(_waiting_text(locked))
        return _transition(locked, Status.IN_REVIEW, actor=actor, side=side, message=message)


@dataclass(frozen=True)
class OfferedLine:
    product: Product
    quantity: Decimal
    unit_price: Decimal
    breaks: Sequence[tuple[Decimal, Decimal]] = field(default_factory=tuple)  # (min quantity, unit price)


def _check_offer(lines: Sequence[OfferedLine], valid_until: date, today: date) -> None:
    if not lines:
        raise OfferRefused("An offer needs at least one line.")
    if valid_until < today:
        raise OfferRefused(f"The offer cannot be valid until {valid_until:%Y-%m-%d}: that day is past.")
    seen: set[int] = set()
    for line in lines:
        sku = line.product.sku
        if line.product.pk in seen:
            raise OfferRefused(f"{sku} is offered twice.")
        seen.add(line.product.pk)
        if not line.product.is_active:
            raise OfferRefused(f"{sku} is no longer sold.")
        if not line.quantity.is_finite() or line.quantity <= 0 or line.quantity > MAX_QUANTITY:
            raise OfferRefused(f"{sku}: the quantity must be more than zero and at most {MAX_QUANTITY:,}.")
        prices = [line.unit_price, *(price for _, price in line.breaks)]
        if any(not price.is_finite() or quantize_price(price) <= 0 for price in prices):
            raise OfferRefused(f"{sku}: every price must be more than zero.")
        if any(quantize_price(price) >= PRICE_LIMIT for price in prices):
            raise OfferRefused(f"{sku}: a unit price must be less than {PRICE_LIMIT:,}.")
        minimums = [minimum for minimum, _ in line.breaks]
        if any(not minimum.is_finite() or minimum <= 0 for minimum in minimums) or len(set(minimums)) != len(
            minimums
        ):
            raise OfferRefused(f"{sku}: each quantity break needs its own quantity of more than zero.")


OFFERABLE = (Status.DRAFT, Status.IN_REVIEW)  # a quote awaiting approval waits for the approver first


def _waiting_text(quote: Quote) -> str:
    return f"Quote {quote.number} waits for a second approval of its offer; approve or reject that first."


def _deep_lines(lines: Sequence[OfferedLine], references: dict[int, PriceQuote]) -> list[str]:
    """The lines whose lowest price (quantity breaks included) is further below the company's own price
    than the threshold allows, as "22% below the company's price on SKU-1"; deepest first."""
    threshold = settings.QUOTE_DISCOUNT_APPROVAL_PERCENT
    deep = []
    for line in lines:
        lowest = pricing.lowest_price(
            quantize_price(line.unit_price), [quantize_price(price) for _, price in line.breaks]
        )
        cut = pricing.discount(lowest, references[line.product.pk].unit_price)
        if pricing.needs_second_approval(cut, threshold):
            deep.append((cut, line.product.sku))
    deep.sort(key=lambda item: (-item[0], item[1]))
    return [f"{pricing.percent_text(cut)} below the company's price on {sku}" for cut, sku in deep]


def quote_offer(
    *,
    quote: Quote,
    actor: User,
    lines: Sequence[OfferedLine],
    valid_until: date,
    note: str = "",
    now: datetime | None = None,
) -> QuoteVersion:
    """The seller offers prices: a new immutable version, valid until the end of ``valid_until`` in the
    company's time zone. Prices above zero; the day not past.

    A line more than ``QUOTE_DISCOUNT_APPROVAL_PERCENT`` below what the company pays without the quote
    (its lowest price, quantity breaks included, against the tier, contract or list price) makes the
    version wait for a second approval (``quote_offer_approve``): the quote is awaiting approval, the
    buyer sees neither the version nor the wait, and the offer's clock starts only when approved."""
    now = now or timezone.now()
    _expire_first(quote, now)
    with transaction.atomic():
        locked, side = _act(quote, actor, now)
        _check_turn(locked, side)
        if locked.status == Status.AWAITING_APPROVAL:
            raise InvalidTransition(_waiting_text(locked))
        if locked.status not in OFFERABLE:
            raise InvalidTransition(f"A {locked.get_status_display().lower()} quote cannot be offered.")
        _check_offer(lines, valid_until, local_today(locked.time_zone, now))
        references = price_resolve_many(
            account=locked.company,
            products=[line.product for line in lines],
            quantity={line.product.pk: line.quantity for line in lines},
            on_date=local_today(locked.time_zone, now),
        )
        deep = _deep_lines(lines, references)
        costs = dict(
            Product.objects.filter(pk__in=[line.product.pk for line in lines]).values_list("pk", "cost_price")
        )
        last = locked.versions.order_by("-number").values_list("number", flat=True).first() or 0
        version = QuoteVersion(
            quote=locked,
            number=last + 1,
            valid_until=valid_until,
            note=note,
            currency=locked.currency,
            offered_by=actor,
            offered_at=now,
            needs_approval=bool(deep),
        )
        version.save()
        for offered in lines:
            reference = references[offered.product.pk]
            line = QuoteLine.objects.create(
                version=version,
                product=offered.product,
                quantity=offered.quantity,
                unit_price=quantize_price(offered.unit_price),
                currency=locked.currency,
                list_price=quantize_price(offered.product.list_price),
                reference_price=reference.unit_price,
                reference_source=reference.source,
                cost_price=costs.get(offered.product.pk),
            )
            QuoteLineBreak.objects.bulk_create(
                QuoteLineBreak(line=line, min_quantity=minimum, unit_price=quantize_price(price))
                for minimum, price in offered.breaks
            )
        if deep:
            waits = f"v{version.number} waits for a second approval: {'; '.join(deep)}."
            _transition(
                locked,
                Status.AWAITING_APPROVAL,
                actor=actor,
                side=side,
                message=f"{waits}\n\n{note}" if note.strip() else waits,
                version=version,
                seller_only=True,
            )
            return version
        locked.expires_at = offer_end(valid_until, locked.time_zone)
        locked.save(update_fields=["expires_at", "updated_at"])
        _transition(locked, Status.OFFERED, actor=actor, side=side, message=note, version=version)
        return version


# --- Second approval ------------------------------------------------------------------------------------


def _waiting(quote: Quote) -> QuoteVersion:
    """The version a quote awaiting approval waits with (its latest)."""
    if quote.status != Status.AWAITING_APPROVAL:
        raise InvalidTransition(f"Quote {quote.number} is not waiting for an approval.")
    version = _current_version(quote)
    if not version.needs_approval or version.approved_at is not None:  # pragma: no cover - by construction
        raise InvalidTransition(f"Quote {quote.number} is not waiting for an approval.")
    return version


def quote_offer_approve(
    *, quote: Quote, actor: User, message: str = "", now: datetime | None = None
) -> Quote:
    """A second person approves the waiting version: it goes to the buyer (offered), valid until the end
    of its valid-until day from now on. The approver is a portal admin or an active member of
    ``QUOTE_DISCOUNT_APPROVERS_GROUP``, and never the person who made the offer (four eyes). A version
    whose valid-until day has passed is refused: it is rejected and offered again instead."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(quote)
        if not user_is_quote_approver(user=actor):
            raise QuoteForbidden("Only a portal admin or a quote approver can approve an offer.")
        version = _waiting(locked)
        if version.offered_by_id == actor.pk:
            raise QuoteForbidden("You made this offer; another person must approve it.")
        if version.valid_until < local_today(locked.time_zone, now):
            raise OfferRefused(
                f"v{version.number} was valid until {version.valid_until:%Y-%m-%d}, a day that has passed: "
                "reject it so the account manager can offer again."
            )
        QuoteVersion.objects.filter(pk=version.pk, approved_at__isnull=True).update(
            approved_by=actor, approved_at=now
        )
        approved = f"v{version.number} approved."
        QuoteEvent.objects.create(
            quote=locked,
            version=version,
            actor=actor,
            side=Side.SELLER,
            message=f"{approved} {message.strip()}" if message.strip() else approved,
            seller_only=True,
        )
        locked.expires_at = offer_end(version.valid_until, locked.time_zone)
        locked.save(update_fields=["expires_at", "updated_at"])
        # The buyer's row: the offer as its maker wrote it, as any offer reads.
        return _transition(
            locked,
            Status.OFFERED,
            actor=version.offered_by,
            side=Side.SELLER,
            message=version.note,
            version=version,
        )


def quote_offer_reject(*, quote: Quote, actor: User, message: str) -> Quote:
    """An approver sends the waiting version back with a reason (or its maker withdraws it): the quote is
    in review again and the seller offers a new version. The rejected version stays, never offered."""
    with transaction.atomic():
        locked = _locked(quote)
        version = _waiting(locked) if locked.status == Status.AWAITING_APPROVAL else None
        is_maker = version is not None and version.offered_by_id == actor.pk
        if not (is_maker or user_is_quote_approver(user=actor)):
            raise QuoteForbidden("Only a portal admin or a quote approver can reject an offer.")
        if version is None:
            raise InvalidTransition(f"Quote {locked.number} is not waiting for an approval.")
        if not message.strip():
            raise QuoteError("Say why the offer is rejected; the account manager is told.")
        return _transition(
            locked,
            Status.IN_REVIEW,
            actor=actor,
            side=Side.SELLER,
            message=f"v{version.number} rejected: {message.strip()}",
            version=version,
            seller_only=True,
        )


def quote_decline(*, quote: Quote, actor: User, message: str, now: datetime | None = None) -> Quote:
    """The seller says no: from submitted, in review, or offered (withdrawing the offer on the table, the
    one move the seller may make while the buyer holds the quote)."""
    now = now or timezone.now()
    _expire_first(quote, now)
    with transaction.atomic():
        locked, side = _act(quote, actor, now)
        if side != Side.SELLER:
            raise NotYourTurn("Only the account manager can decline a quote; close it instead.")
        if not message.strip():
            raise QuoteError("Say why the quote is declined; the buyer is told.")
        return _transition(locked, Status.DECLINED, actor=actor, side=side, message=message)


# --- Buyer ----------------------------------------------------------------------------------------------


def _current_version(quote: Quote) -> QuoteVersion:
    version = quote.versions.order_by("-number").first()
    if version is None:  # pragma: no cover - an offered quote always has its version
        raise QuoteError("This quote has no offer.")
    return version


def quote_counter(*, quote: Quote, actor: User, message: str, now: datetime | None = None) -> Quote:
    """The buyer answers the offer with a message: back to the seller, who offers the next version."""
    now = now or timezone.now()
    _expire_first(quote, now)
    with transaction.atomic():
        locked, side = _act(quote, actor, now)
        _check_turn(locked, side)
        if not message.strip():
            raise QuoteError("Say what you would like changed.")
        if locked.status != Status.OFFERED:
            raise InvalidTransition("Only an offer can be countered.")
        version = _current_version(locked)
        return _transition(locked, Status.IN_REVIEW, actor=actor, side=side, message=message, version=version)


def quote_close(*, quote: Quote, actor: User, message: str = "", now: datetime | None = None) -> Quote:
    """The buyer turns the offer down."""
    now = now or timezone.now()
    _expire_first(quote, now)
    with transaction.atomic():
        locked, side = _act(quote, actor, now)
        _check_turn(locked, side)
        return _transition(locked, Status.CLOSED, actor=actor, side=side, message=message)


def quote_accept(
    *,
    quote: Quote,
    actor: User,
    customer_po_number: str = "",
    ship_to: ShipToAddress | None = None,
    now: datetime | None = None,
) -> Quote:
    """The buyer takes the offer: exactly one order, its lines at the offered quantities and prices
    (source "quote Q-000123 v2"), submitted through the company's approval rules and the credit check
    like any order; the quote is then ordered.

    Idempotent: the quote row is locked, and a quote already ordered is returned as it is (a double click
    or a retry gets the same order); ``Quote.purchase_order`` is unique besides. A refusal (an approval
    gate or the order's own checks raising) changes nothing."""
    now = now or timezone.now()
    _expire_first(quote, now)
    with transaction.atomic():
        locked = _locked(quote)
        side = side_of(quote=locked, user=actor)
        if locked.status == Status.ORDERED and side == Side.BUYER:
            return locked
        if _is_due(locked, now) or locked.status == Status.EXPIRED:
            raise QuoteExpired(f"The offer on quote {locked.number} has expired; ask for a new quote.")
        _check_turn(locked, side)
        version = _current_version(locked)
        _transition(locked, Status.ACCEPTED, actor=actor, side=side, version=version)
        order = _order_from(locked, version, actor, customer_po_number, ship_to)
        locked.purchase_order = order
        locked.save(update_fields=["purchase_order", "updated_at"])
        return _transition(
            locked,
            Status.ORDERED,
            actor=actor,
            side=side,
            message=f"Order {order.customer_po_number} placed.",
            version=version,
        )


def _order_from(
    quote: Quote, version: QuoteVersion, buyer: User, customer_po_number: str, ship_to: ShipToAddress | None
) -> PurchaseOrder:
    if ship_to is None:
        ship_to = ShipToAddress.objects.filter(company=quote.company, is_active=True, is_default=True).first()
    elif ship_to.company_id != quote.company_id:
        raise QuoteError("Choose one of your company's addresses.")
    number = customer_po_number.strip() or quote.number
    if PurchaseOrder.objects.filter(company_id=quote.company_id, customer_po_number=number).exists():
        raise OrderNumberTaken(f"Your company already has an order {number}.")
    today = local_today(quote.time_zone, timezone.now())
    order = PurchaseOrder.objects.create(
        company=quote.company,
        buyer=buyer,
        customer_po_number=number,
        ship_to=ship_to,
        requested_date=quote.wanted_date if quote.wanted_date and quote.wanted_date >= today else None,
        notes=f"From quote {quote.number} v{version.number}.",
        currency=version.currency,
    )
    lines = list(version.lines.all())
    PurchaseOrderLine.objects.bulk_create(
        PurchaseOrderLine(purchase_order=order, product_id=line.product_id, quantity=line.quantity)
        for line in lines
    )
    source = f"quote {quote.number} v{version.number}"
    agreed = {line.product_id: (line.unit_price, source) for line in lines}
    try:
        return purchase_order_submit_and_route(purchase_order=order, actor=buyer, agreed_prices=agreed)
    except ApplicationError as exc:  # the order's own checks (a company on hold, no address): nothing kept
        raise QuoteError(f"The order could not be placed: {exc.message}") from exc


# --- Once per Idempotency-Key (the API) -----------------------------------------------------------------


@dataclass(frozen=True)
class Once:
    """What an API action came to: the quote as it now is; ``done_now`` False when it was a replay."""

    quote: Quote
    done_now: bool


def _seen_before(company: Company, key: str, action: str, request_hash: str) -> Once | None:
    if not key:
        return None
    record = (
        QuoteIdempotencyRecord.objects.filter(company=company, key=key, action=action)
        .select_related("quote")
        .first()
    )
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise IdempotencyConflict("This Idempotency-Key was used with a different request.")
    return Once(record.quote, done_now=False)


def quote_act_once(
    *,
    company: Company,
    action: QuoteIdempotencyRecord.Action,
    key: str,
    request_hash: str,
    act: Callable[[Quote | None], Quote],
    quote: Quote | None = None,
) -> Once:
    """Run ``act`` (one of the services above) once per Idempotency-Key: a retry with the key and the same
    request replays the quote; the key with another request raises ``IdempotencyConflict``.

    On an existing quote a due offer is expired first, in its own transaction (kept when the action is
    then refused), and the key is looked up again under the quote's row lock, so a concurrent retry waits
    for the first call and replays it; ``act`` gets the locked quote. A new quote has no row to lock: a
    concurrent retry there loses on the key's unique constraint and replays."""
    seen = _seen_before(company, key, action, request_hash)
    if seen is not None:
        return seen
    if quote is not None:
        quote_expire(quote=quote)
    try:
        with transaction.atomic():
            locked = None
            if quote is not None:
                locked = _locked(quote)
                seen = _seen_before(company, key, action, request_hash)
                if seen is not None:
                    return seen
            done = act(locked)
            if key:
                QuoteIdempotencyRecord.objects.create(
                    company=company, key=key, action=action, request_hash=request_hash, quote=done
                )
    except IntegrityError:
        seen = _seen_before(company, key, action, request_hash)
        if seen is None:
            raise
        return seen
    return Once(done, done_now=True)


def quote_accept_first(
    *, quote: Quote, actor: User, customer_po_number: str = "", ship_to: ShipToAddress | None = None
) -> Quote:
    """``quote_accept`` refusing a quote already ordered, naming its order: for an API client, whose retry
    carries the first accept's Idempotency-Key, a second accept is a mistake to be told, not answered.
    Called under the quote's row lock
    (``quote_act_once`` holds it)."""
    current = Quote.objects.select_related("purchase_order").get(pk=quote.pk)
    order = current.purchase_order
    if current.status == Status.ORDERED and order is not None:
        raise QuoteAlreadyOrdered(
            f"Quote {current.number} was already accepted: it is order {order.customer_po_number} "
            f"(id {order.pk}).",
            extra={"purchase_order_id": order.pk, "po_number": order.customer_po_number},
        )
    return quote_accept(quote=quote, actor=actor, customer_po_number=customer_po_number, ship_to=ship_to)
