from __future__ import annotations

import os

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from apps.core.models import TimeStampedModel

# The longest connector position (``Page.next``) a cursor or a reconciliation run stores.
POSITION_MAX_LENGTH = 2000


class ErpConnection(TimeStampedModel):
    """One ERP the portal talks to. Secrets stay in the environment; the row names the variable."""

    class Kind(models.TextChoices):
        TRYTON = "tryton", "Tryton (JSON-RPC)"
        BUSINESS_CENTRAL = "business_central", "Microsoft Dynamics 365 Business Central (API v2.0)"
        ODOO = "odoo", "Odoo (JSON-2)"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TRYTON)
    url = models.URLField(help_text="Base URL, e.g. http://127.0.0.1:8000")
    database = models.CharField(max_length=100)
    username = models.CharField(max_length=100)
    password_env = models.CharField(
        max_length=100,
        default="ERP_PASSWORD",
        help_text="Name of the environment variable holding the password.",
    )
    is_active = models.BooleanField(default=True)
    concurrency_limit = models.PositiveSmallIntegerField(
        default=2, help_text="Most requests in flight to this ERP at once, per worker process."
    )
    timeout_seconds = models.PositiveSmallIntegerField(default=30)
    # Settings of this kind of ERP that are not secrets (Business Central: tenant_id, environment,
    # company_id, token_url); see the README's table.
    options = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def password(self) -> str:
        return os.environ.get(self.password_env, "")


class SyncJob(TimeStampedModel):
    """The outbox: one change the ERP must learn, written in the same transaction as the change."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting for its first try or for a retry at next_attempt_at
        IN_FLIGHT = "in_flight", "In flight"  # claimed by a worker, which renews lease_expires_at
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"  # the ERP refused it (validation, credit): a person must act
        DEAD = "dead", "Dead"  # transient failures exhausted its attempts: dead-lettered

    class ErrorKind(models.TextChoices):
        NONE = "", "None"
        TRANSIENT = "transient", "Transient"
        UNAVAILABLE = "unavailable", "ERP unavailable"  # an outage: retried as soon as the ERP answers
        BUSINESS = "business", "Business"
        INTERNAL = "internal", "Portal error"  # the portal's own code raised: retried, then dead

    connection = models.ForeignKey(ErpConnection, on_delete=models.PROTECT, related_name="jobs")
    kind = models.CharField(max_length=50, db_index=True)
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    target_id = models.CharField(max_length=64)
    target = GenericForeignKey("target_type", "target_id")
    payload_version = models.PositiveIntegerField(default=1)
    idempotency_key = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)  # when the current claim began
    claimed_by = models.CharField(max_length=200, blank=True)
    # The claim lives while its worker renews this (every third of the lease); a dead worker's claim
    # expires within one lease and the job is taken again.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_kind = models.CharField(max_length=20, choices=ErrorKind.choices, blank=True, default="")
    erp_reference = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "idempotency_key"], name="sync_job_idempotency_key_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="sync_job_due_idx"),
            models.Index(fields=["target_type", "target_id"], name="sync_job_target_idx"),
            models.Index(fields=["status", "lease_expires_at"], name="sync_job_lease_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.target_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.DEAD)


class SyncCursor(TimeStampedModel):
    """Where an inbound stream stands, by the ERP's own clock, and how its last runs went."""

    connection = models.ForeignKey(ErpConnection, on_delete=models.CASCADE, related_name="cursors")
    stream = models.CharField(max_length=30)  # a stream name a domain app registered (apps/erp/registry.py)
    # Position: everything the ERP changed up to position_time (its clock) has been applied.
    position_time = models.DateTimeField(null=True, blank=True)
    # The connector's position within the run under way ("": none; see Page.next).
    position = models.CharField(max_length=POSITION_MAX_LENGTH, blank=True, default="")
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    items_last_run = models.PositiveIntegerField(default=0)
    items_total = models.PositiveBigIntegerField(default=0)
    # Progress of the run under way (a long first pull shows how far it got).
    run_started_at = models.DateTimeField(null=True, blank=True)
    run_items_done = models.PositiveIntegerField(default=0)
    # Only one worker pulls a stream at a time: it holds the stream until this time (renewed per page).
    run_locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["connection", "stream"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "stream"], name="sync_cursor_stream_unique")
        ]

    def __str__(self) -> str:
        return f"{self.connection}:{self.stream}"


class SyncEvent(models.Model):
    """One line in a record's sync timeline: a push, a pull that changed it, a failure."""

    class Direction(models.TextChoices):
        INBOUND = "in", "From ERP"
        OUTBOUND = "out", "To ERP"

    class Outcome(models.TextChoices):
        QUEUED = "queued", "Queued"
        SUCCEEDED = "succeeded", "Succeeded"
        RETRYING = "retrying", "Will retry"
        FAILED = "failed", "Failed"
        DEAD = "dead", "Dead"
        UPDATED = "updated", "Updated"
        CREATED = "created", "Created"

    connection = models.ForeignKey(ErpConnection, on_delete=models.CASCADE, related_name="events")
    target_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    target_id = models.CharField(max_length=64)
    target = GenericForeignKey("target_type", "target_id")
    job = models.ForeignKey(SyncJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    message = models.TextField(blank=True)
    erp_reference = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "-created_at"], name="sync_event_target_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.outcome}: {self.message[:60]}"


class Incident(models.Model):
    """An alert raised once per incident (a stalled stream, a dead job) and closed when it clears."""

    key = models.CharField(max_length=200)
    summary = models.CharField(max_length=500)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(closed_at__isnull=True), name="incident_one_open_per_key"
            ),
        ]

    def __str__(self) -> str:
        return self.summary


class ReconcileRun(TimeStampedModel):
    """One full comparison of an entity between the portal and the ERP, resumable page by page."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"  # stopped on an ERP error; the next run for the entity resumes it

    connection = models.ForeignKey(ErpConnection, on_delete=models.CASCADE, related_name="reconcile_runs")
    entity = models.CharField(max_length=40)  # a reconciliation an app registered (apps/erp/registry.py)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    requested_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Progress: ERP rows compared so far (resumes after the last committed page), portal rows in scope.
    position = models.CharField(max_length=POSITION_MAX_LENGTH, blank=True, default="")  # a Page.next
    erp_rows = models.PositiveIntegerField(default=0)
    portal_rows = models.PositiveIntegerField(default=0)
    differences = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The worker comparing it holds it until this time (renewed per page); a dead worker's run resumes.
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["connection", "entity", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.entity} reconciliation {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class ReconcileMark(models.Model):
    """What a run has seen of the ERP: keys and the portal rows they matched. Kept in the database, not in
    memory, so a run's memory stays flat however many rows it compares; deleted with the run's next
    successor."""

    run = models.ForeignKey(ReconcileRun, on_delete=models.CASCADE, related_name="marks")
    key = models.CharField(max_length=100)
    reference = models.CharField(max_length=200, blank=True)
    portal_pk = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="reconcile_mark_one_per_key")]
        indexes = [
            models.Index(fields=["run", "reference"]),
            models.Index(fields=["run", "portal_pk"]),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.reference})" if self.reference else self.key


class Drift(TimeStampedModel):
    """A difference a reconciliation found between the portal and the ERP, open until a run no longer
    finds it (fixed) or a person accepts it as it is."""

    class Kind(models.TextChoices):
        MISSING_IN_ERP = "missing_in_erp", "Missing in the ERP"  # the portal has it, the ERP never got it
        MISSING_IN_PORTAL = "missing_in_portal", "Missing in the portal"  # the ERP has it, the portal not
        DELETED_IN_ERP = "deleted_in_erp", "Deleted in the ERP"  # the portal links an ERP record now gone
        FIELD_DIFFERS = "field_differs", "Field differs"
        DUPLICATED = "duplicated", "Duplicated"  # two ERP records carry one portal reference

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FIXING = "fixing", "Fix queued"  # a re-pull or re-push is on its way through the outbox
        ACCEPTED = "accepted", "Accepted as is"
        RESOLVED = "resolved", "Resolved"  # the last run no longer found it

    connection = models.ForeignKey(ErpConnection, on_delete=models.CASCADE, related_name="drifts")
    entity = models.CharField(max_length=40)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=200)  # the ERP key, or the portal reference when the ERP has none
    label = models.CharField(max_length=300, blank=True)  # what a person recognises: SKU, PO number, name
    target_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, null=True, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    # field_differs: {field: [portal value, ERP value]}; duplicated: {"erp_keys": [...]}.
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    first_seen_run = models.ForeignKey(ReconcileRun, on_delete=models.SET_NULL, null=True, related_name="+")
    last_seen_run = models.ForeignKey(ReconcileRun, on_delete=models.SET_NULL, null=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_reason = models.TextField(blank=True)
    fix_job = models.ForeignKey(SyncJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["entity", "kind", "label", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "entity", "kind", "key"], name="drift_one_per_entity_kind_key"
            )
        ]
        indexes = [models.Index(fields=["status", "entity", "kind"])]

    def __str__(self) -> str:
        return f"{self.entity} {self.key}: {self.get_kind_display()}"


class ErpSubscription(TimeStampedModel):
    """A change-notification subscription the portal holds with an ERP that calls back (webhooks): which
    resource, the ERP's id for it, the secret ``client_state`` the ERP echoes in each notification, when
    it expires (renewed before), and the ERP's ETag for its next update."""

    connection = models.ForeignKey(ErpConnection, on_delete=models.CASCADE, related_name="subscriptions")
    resource = models.CharField(max_length=500)
    subscription_id = models.CharField(max_length=200, blank=True)
    client_state = models.CharField(max_length=200)
    expires_at = models.DateTimeField(null=True, blank=True)
    etag = models.CharField(max_length=200, blank=True)
    last_notification_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "resource"], name="erp_subscription_resource_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.resource}"
