from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.models import TimeStampedModel
from apps.core.staff import STAFF_GROUP_NAMES as STAFF_GROUP_NAMES  # re-exported: the roles are core's
from apps.core.staff import StaffRole as StaffRole
from apps.core.timezones import default_time_zone, validate_time_zone


class Company(TimeStampedModel):
    """A B2B customer account: the buyers of one customer, mirrored to one ERP customer."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"  # may place orders
        ON_HOLD = "on_hold", "On hold"  # may sign in and look, may not submit orders

    name = models.CharField(max_length=200)
    erp_customer_code = models.CharField(
        "ERP customer code",
        max_length=64,
        blank=True,
        help_text="The customer's code in the ERP; empty until the ERP has the customer.",
    )
    tax_identifier = models.CharField(
        "tax ID",
        max_length=50,
        blank=True,
        help_text="The customer's tax identifier, e.g. a US EIN 12-3456789.",
    )
    erp_party_id = models.CharField("ERP party id", max_length=64, blank=True, db_index=True)
    erp_updated_at = models.DateTimeField(null=True, blank=True, help_text="The ERP's own change time.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    hold_reason = models.CharField(max_length=500, blank=True)

    class HoldSource(models.TextChoices):
        NONE = "", "—"
        PORTAL = "portal", "Finance, in the portal"
        ERP = "erp", "The ERP"

    # Who put the company on hold: the ERP lifts only its own holds, never one finance set here.
    hold_source = models.CharField(max_length=10, choices=HoldSource.choices, blank=True, default="")
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_companies",
    )
    # The company's own day: an offered quote runs out at midnight here. Portal-owned.
    time_zone = models.CharField(
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text="Quote offers run out at midnight in this time zone.",
    )
    phone = models.CharField(max_length=40, blank=True)
    billing_email = models.EmailField(blank=True)
    website = models.URLField(blank=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["erp_customer_code"],
                condition=~Q(erp_customer_code=""),
                name="company_erp_customer_code_unique",
            ),
        ]
        permissions = [
            ("view_all_companies", "Can see every company account"),
            ("manage_credit_holds", "Can put companies on hold and release them"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_on_hold(self) -> bool:
        return self.status == self.Status.ON_HOLD


class Role(models.TextChoices):
    """What a member of a company may do in the portal."""

    ADMIN = "admin", "Company admin"  # manages the company's users, addresses and rules; also buys
    BUYER = "buyer", "Buyer"  # builds and submits purchase orders
    APPROVER = "approver", "Approver"  # signs off purchase orders under the company's rules
    VIEWER = "viewer", "Viewer"  # reads orders, invoices and prices


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> MembershipQuerySet:
        return self.filter(is_active=True, user__is_active=True)


class Membership(TimeStampedModel):
    """A portal user's place in one company. A buyer-side user belongs to exactly one company."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.BUYER, db_index=True)
    is_active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["company__name", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.company} ({self.get_role_display()})"


class Invitation(TimeStampedModel):
    """An emailed link that lets a new person join a company with a role."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.BUYER)
    token = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.company}"

    def is_usable(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class ShipToAddress(TimeStampedModel):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="ship_to_addresses")
    label = models.CharField(max_length=100, help_text="How buyers pick it, e.g. 'Main warehouse'.")
    street = models.CharField(max_length=200)
    street_2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=20)
    region = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166 country code, e.g. US.")
    contact_name = models.CharField(max_length=100, blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    is_default = models.BooleanField("default ship-to address", default=False)
    is_active = models.BooleanField("in use", default=True, help_text="Untick to archive the address.")
    erp_address_id = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "ship-to address"
        verbose_name_plural = "ship-to addresses"
        ordering = ["-is_default", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["company"], condition=Q(is_default=True), name="ship_to_one_default_per_company"
            ),
            models.UniqueConstraint(fields=["company", "label"], name="ship_to_label_unique_per_company"),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.street}, {self.city}"

    def one_line(self) -> str:
        parts = [self.street, self.street_2, f"{self.postal_code} {self.city}", self.region, self.country]
        return ", ".join(part for part in parts if part)


class ActingSession(TimeStampedModel):
    """An account manager (or a portal admin) acting for a named buyer of a company, for a limited time.

    The real user stays the manager: this row, not a login, is what lets the company's order pages resolve
    the buyer's membership, and only for building, fixing and submitting drafts."""

    class EndReason(models.TextChoices):
        NONE = "", "—"
        STOPPED = "stopped", "Stopped by the manager"
        EXPIRED = "expired", "Time limit reached"
        REPLACED = "replaced", "Replaced by a new session"
        BUYER_INACTIVE = "buyer_inactive", "The buyer can no longer order"
        UNASSIGNED = "unassigned", "The company is no longer the manager's"

    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="acting_sessions")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=20, choices=EndReason.choices, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["manager", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.manager} for {self.buyer} @ {self.company}"

    def is_open(self) -> bool:
        return self.ended_at is None and self.expires_at > timezone.now()


# What the company's admins read for each page a change was made on while acting; others show the name.
ACTING_ACTION_LABELS = {
    "po-builder-header": "Changed the order details",
    "po-builder-quick": "Added lines (quick order)",
    "po-builder-csv": "Uploaded a file of lines",
    "po-builder-add": "Added a product from the catalog",
    "po-builder-line": "Changed or removed a line",
    "po-builder-submit": "Submitted the order",
    "po-reorder": "Copied an order's lines into the draft",
    "acting-stop": "Stopped acting",
}


class ActingAction(models.Model):
    """One change made under an acting session (every non-read request): what, when, which order."""

    session = models.ForeignKey(ActingSession, on_delete=models.CASCADE, related_name="actions")
    at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=100)
    path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField()
    # The order it touched, by id and by its label then (accounts sits below purchase orders).
    purchase_order_id = models.PositiveIntegerField(null=True, blank=True)
    order_label = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} at {self.at}"

    @property
    def label(self) -> str:
        return ACTING_ACTION_LABELS.get(self.action, self.action)
