"""The transactional outbox: one Event row per state change, written in its transaction."""

from __future__ import annotations

import uuid

from django.db import models


class EventSequence(models.Model):
    """The tenant's single event counter row, taken at COMMIT time.

    `publish()` inserts its Event with `sequence` NULL and takes no lock. The deferred
    constraint trigger `events_event_number_at_commit` (migration 0004) fires for each such
    row when its transaction commits: it increments this row (UPDATE ... RETURNING) and
    writes the number into the event. The row lock is held only from that commit-time
    trigger to the end of the commit, so transactions publishing in one tenant no longer
    wait for each other while they run, and still:
    - sequences are gapless (a rolled-back transaction never fired its trigger);
    - sequences follow commit order: the next committing transaction's trigger waits for
      this row until the previous commit is visible, so a reader of `after_sequence=N`
      never misses an event that commits late.
    Rows inserted with a number already (apps.dunning.outbox reserves a block here and holds
    the row until commit) are left alone by the trigger (its WHEN clause).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="event_sequence_single_row")]

    def __str__(self) -> str:
        return f"event sequence at {self.value}"


class Event(models.Model):
    """A domain event (`invoice.finalized`), with the envelope of ARCHITECTURE.md §4."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=100, db_index=True)
    subject = models.CharField(max_length=100, blank=True, help_text="Id of the object the event is about.")
    # NULL until the publishing transaction commits (EventSequence): committed events always
    # have one, so readers in other transactions never see NULL.
    sequence = models.BigIntegerField(null=True, unique=True)
    created_at = models.DateTimeField(db_index=True)
    api_version = models.CharField(max_length=10)
    data = models.JSONField()

    class Meta:
        ordering = ["sequence"]
        indexes = [models.Index(fields=["type", "sequence"], name="event_type_sequence")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.type}"


class EndpointKind(models.TextChoices):
    TENANT = "tenant", "Tenant endpoint"
    PLATFORM = "platform", "Platform endpoint (PLATFORM_WEBHOOK_URL)"


class WebhookEndpoint(models.Model):
    """Where this tenant's events are POSTed, signed per Standard Webhooks.

    `event_types` holds exact types or patterns (`invoice.*`, `*`). The secret is shown once
    at creation; after a rotation the previous one stays valid (both signatures are sent)
    until `previous_secret_expires_at`. The single PLATFORM row mirrors the settings
    PLATFORM_WEBHOOK_URL / PLATFORM_WEBHOOK_SECRET (read at delivery time).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=EndpointKind.choices, default=EndpointKind.TENANT)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    event_types = models.JSONField(default=list, help_text='Exact types or patterns: ["invoice.*", "*"].')
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    secret = models.CharField(max_length=200, editable=False)
    previous_secret = models.CharField(max_length=200, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    batch_size = models.PositiveIntegerField(
        default=1, help_text="Batch mode when above 1: up to this many events per POST (a JSON array)."
    )
    batch_window_seconds = models.PositiveIntegerField(
        default=5, help_text="Batch mode: send a partial batch after this many seconds."
    )
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(kind="platform"), name="webhook_single_platform_endpoint"
            )
        ]

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def batched(self) -> bool:
        return self.batch_size > 1


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One event to one endpoint; `webhook-id` is this row's `message_id` on every attempt.

    `next_attempt_at` (in the database, never a Celery ETA) is when the sweeper may send it
    again; `lease_until` keeps two workers from sending it at the same time.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    batch_id = models.UUIDField(null=True, blank=True, db_index=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_once_per_endpoint")]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="delivery_pending_due")
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"

    @property
    def message_id(self) -> str:
        return f"batch_{self.batch_id}" if self.batch_id else f"msg_{self.id.hex}"


class DeliveryAttempt(models.Model):
    """One HTTP attempt of a delivery: when, answer, latency, the start of the body, or the error."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_snippet = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
