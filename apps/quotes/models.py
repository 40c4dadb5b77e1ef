"""Negotiable quotes: a buyer asks for prices, the account manager offers them in immutable versions,
the buyer counters, closes or accepts, and an accepted quote becomes exactly one purchase order."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.accounts.models import Company
from apps.catalog.models import Product
from apps.core import money
from apps.core.models import TimeStampedModel
from apps.purchase_orders.models import PurchaseOrder
from apps.quotes import pricing
from apps.quotes.exceptions import ImmutableVersion


class Side(models.TextChoices):
    BUYER = "buyer", "Buyer"  # the company's members
    SELLER = "seller", "Seller"  # the company's account manager (or a portal admin)


class Quote(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"  # started by the account manager; only the seller sees it
        SUBMITTED = "submitted", "Submitted"  # asked by the buyer, waiting for the seller to pick it up
        IN_REVIEW = "in_review", "In review"  # the seller holds it; the buyer can no longer change it
        # The seller offered a discount past the threshold: the version waits for a second person's approval
        # (the buyer sees the quote still in review and not the version).
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        OFFERED = "offered", "Offered"  # an immutable version is on the table until its valid-until day ends
        ACCEPTED = "accepted", "Accepted"  # the buyer took the offer; its order is being made
        ORDERED = "ordered", "Ordered"  # final: the order exists, prices frozen from the offer
        CLOSED = "closed", "Closed"  # final: the buyer said no
        DECLINED = "declined", "Declined"  # final: the seller said no
        EXPIRED = "expired", "Expired"  # final: the offer ran out

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="quotes")
    number = models.CharField(max_length=20, unique=True)  # "Q-000123", from the row id
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.TextField(blank=True)
    wanted_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default=money.DEFAULT_CURRENCY)
    # The company's time zone when the quote was made (the portal's, PORTAL_TIME_ZONE): a valid-until day
    # ends at midnight there.
    time_zone = models.CharField(max_length=64)
    # The end of the current offer's valid-until day in ``time_zone``; set while offered.
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The one order made from the accepted offer: unique, so a second order cannot be linked.
    purchase_order = models.OneToOneField(
        PurchaseOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="quote"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number

    def can_transition_to(self, status: str) -> bool:
        return status in TRANSITIONS[Quote.Status(self.status)]

    @property
    def is_final(self) -> bool:
        return not TRANSITIONS[Quote.Status(self.status)]

    @property
    def turn(self) -> Side | None:
        """Whose move it is; None once the quote is final (or its order is being made)."""
        return TURN.get(Quote.Status(self.status))

    def status_for(self, side: Side | str) -> Quote.Status:
        """The state as ``side`` sees it: the buyer sees a quote awaiting approval still in review."""
        return status_for(self.status, side)

    def status_label_for(self, side: Side | str) -> str:
        return self.status_for(side).label


def status_for(status: str, side: Side | str) -> Quote.Status:
    """A state as ``side`` sees it (a thread row's too): the second approval is the seller's own affair."""
    if side == Side.BUYER and status == Quote.Status.AWAITING_APPROVAL:
        return Quote.Status.IN_REVIEW
    return Quote.Status(status)


S = Quote.Status

# Every allowed move, and only those. A state with no way out is final.
TRANSITIONS: dict[Quote.Status, frozenset[Quote.Status]] = {
    S.DRAFT: frozenset({S.IN_REVIEW, S.OFFERED, S.AWAITING_APPROVAL, S.DECLINED}),
    S.SUBMITTED: frozenset({S.IN_REVIEW, S.DECLINED}),
    S.IN_REVIEW: frozenset({S.OFFERED, S.AWAITING_APPROVAL, S.DECLINED}),
    # An approver releases the version (offered) or sends it back (in review); the seller may decline.
    S.AWAITING_APPROVAL: frozenset({S.OFFERED, S.IN_REVIEW, S.DECLINED}),
    # The buyer accepts, counters (back to in review) or closes; the seller may withdraw (decline); the
    # end of the valid-until day expires it.
    S.OFFERED: frozenset({S.ACCEPTED, S.IN_REVIEW, S.CLOSED, S.DECLINED, S.EXPIRED}),
    S.ACCEPTED: frozenset({S.ORDERED}),
    S.ORDERED: frozenset(),
    S.CLOSED: frozenset(),
    S.DECLINED: frozenset(),
    S.EXPIRED: frozenset(),
}

# Whose turn it is in each state that waits for someone.
TURN: dict[Quote.Status, Side] = {
    S.DRAFT: Side.SELLER,
    S.SUBMITTED: Side.SELLER,
    S.IN_REVIEW: Side.SELLER,
    S.AWAITING_APPROVAL: Side.SELLER,
    S.OFFERED: Side.BUYER,
}


class QuoteRequestLine(TimeStampedModel):
    """What the buyer asked for (or the manager put on a draft): a product and a quantity."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="request_lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(
        max_digits=money.QUANTITY_MAX_DIGITS, decimal_places=money.QUANTITY_DECIMAL_PLACES
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["quote", "product"], name="quote_request_line_one_per_product"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="quote_request_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of product {self.product_id}"


class QuoteVersionQuerySet(models.QuerySet["QuoteVersion"]):
    def offered(self) -> QuoteVersionQuerySet:
        """The versions put before the buyer: those needing no approval, and the approved ones."""
        return self.filter(Q(needs_approval=False) | Q(approved_at__isnull=False))


class QuoteVersion(models.Model):
    """One offer: written once by ``quote_offer``, never changed (a counter leads to the next version).

    A version whose discount passes the threshold ``needs_approval``: it reaches the buyer only once a
    second person approved it (``approved_by``/``approved_at``, set once by ``quote_offer_approve``
    through a narrow update, the one write after creation)."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    valid_until = models.DateField()
    note = models.TextField(blank=True)
    currency = models.CharField(max_length=3, default=money.DEFAULT_CURRENCY)
    offered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    offered_at = models.DateTimeField()
    needs_approval = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    objects = QuoteVersionQuerySet.as_manager()

    class Meta:
        ordering = ["quote", "number"]
        constraints = [
            models.UniqueConstraint(fields=["quote", "number"], name="quote_version_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.quote_id} v{self.number}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ImmutableVersion("An offered version cannot be changed; offer a new version.")
        super().save(*args, **kwargs)

    @property
    def is_offered(self) -> bool:
        """Put before the buyer: needing no approval, or approved."""
        return not self.needs_approval or self.approved_at is not None


class QuoteLine(models.Model):
    """An offered line: the price agreed for this version, and the prices the seller saw when offering
    (list price, and the company's tier or contract price with its source) kept as they were."""

    version = models.ForeignKey(QuoteVersion, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(
        max_digits=money.QUANTITY_MAX_DIGITS, decimal_places=money.QUANTITY_DECIMAL_PLACES
    )
    unit_price = models.DecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_DECIMAL_PLACES
    )
    currency = models.CharField(max_length=3, default=money.DEFAULT_CURRENCY)
    list_price = models.DecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_DECIMAL_PLACES
    )
    # What the company would have paid without the quote (tier break, tier default, contract or list).
    reference_price = models.DecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_DECIMAL_PLACES
    )
    reference_source = models.CharField(max_length=30)
    # The product's cost from the ERP when offered (None: the ERP has none), for the line's margin.
    cost_price = models.DecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_DECIMAL_PLACES, null=True, blank=True
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "product"], name="quote_line_one_per_product"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="quote_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="quote_line_unit_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of product {self.product_id} at {self.unit_price}"

    @property
    def lowest_price(self) -> Decimal:
        """The lowest price offered on the line, its quantity breaks' included (prefetch ``breaks``)."""
        return pricing.lowest_price(
            self.unit_price, [line_break.unit_price for line_break in self.breaks.all()]
        )

    @property
    def discount(self) -> Decimal:
        """How far the lowest offered price is below what the company pays without the quote."""
        return pricing.discount(self.lowest_price, self.reference_price)

    @property
    def margin(self) -> Decimal | None:
        """The margin of the unit price over the cost when offered; None without a cost."""
        return pricing.margin(self.unit_price, self.cost_price)


class QuoteLineBreak(models.Model):
    """An optional quantity break of an offered line: from ``min_quantity`` on, ``unit_price`` each."""

    line = models.ForeignKey(QuoteLine, on_delete=models.CASCADE, related_name="breaks")
    min_quantity = models.DecimalField(
        max_digits=money.QUANTITY_MAX_DIGITS, decimal_places=money.QUANTITY_DECIMAL_PLACES
    )
    unit_price = models.DecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_DECIMAL_PLACES
    )

    class Meta:
        ordering = ["line", "min_quantity"]
        constraints = [
            models.UniqueConstraint(fields=["line", "min_quantity"], name="quote_line_break_unique"),
            models.CheckConstraint(condition=Q(min_quantity__gt=0), name="quote_break_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="quote_break_unit_price_positive"),
        ]

    def __str__(self) -> str:
        return f"from {self.min_quantity} at {self.unit_price}"


class QuoteEvent(models.Model):
    """The thread: who said what, when, and the status change it made (if any)."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="events")
    version = models.ForeignKey(
        QuoteVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    side = models.CharField(max_length=10, choices=Side.choices, blank=True)  # blank: the portal itself
    from_status = models.CharField(max_length=20, choices=Quote.Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Quote.Status.choices, blank=True)
    message = models.TextField(blank=True)
    # The seller's own: the second approval's conversation, never shown to the buyer.
    seller_only = models.BooleanField(default=False)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status or '—'}"

    def from_status_for(self, side: Side | str) -> Quote.Status | None:
        """The state the row moved the quote from, as ``side`` sees it (None: no move)."""
        return status_for(self.from_status, side) if self.from_status else None

    def to_status_for(self, side: Side | str) -> Quote.Status | None:
        return status_for(self.to_status, side) if self.to_status else None


class QuoteIdempotencyRecord(models.Model):
    """An API action seen before (a request, counter, accept or close, by its Idempotency-Key): the same
    key and request replay the quote as it now is; the key with another request is a 409."""

    class Action(models.TextChoices):
        REQUEST = "request", "Request"
        COUNTER = "counter", "Counter"
        ACCEPT = "accept", "Accept"
        CLOSE = "close", "Close"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    action = models.CharField(max_length=10, choices=Action.choices)
    # The hash of the action, the quote it was on and the body: the same key on another quote differs.
    request_hash = models.CharField(max_length=64)
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "key", "action"], name="quote_idempotency_key_unique_per_company"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.key}"
