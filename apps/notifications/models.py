"""Notifications: one record per message sent (or refused), tenant template overrides and
per-account preferences."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PUSH = "push", _("Push")
    WEBHOOK = "webhook", _("Webhook")


class Kind(models.TextChoices):
    INVOICE_CREATED = "invoice_created", _("Invoice created")
    INVOICE_SENT = "invoice_sent", _("Invoice sent")
    PAYMENT_SUCCEEDED = "payment_succeeded", _("Payment succeeded")
    PAYMENT_FAILED = "payment_failed", _("Payment failed")
    DUNNING_REMINDER = "dunning_reminder", _("Dunning reminder")
    DUNNING_ESCALATION = "dunning_escalation", _("Dunning escalation")
    DUNNING_FINAL_NOTICE = "dunning_final_notice", _("Dunning final notice")
    ACCOUNT_SUSPENDED = "account_suspended", _("Account suspended")
    ACCOUNT_REACTIVATED = "account_reactivated", _("Account reactivated")
    CREDIT_NOTE_ISSUED = "credit_note_issued", _("Credit note issued")
    REFUND_ISSUED = "refund_issued", _("Refund issued")


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    BOUNCED = "bounced", _("Bounced")


class Priority(models.TextChoices):
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")


FINAL_STATUSES = (Status.DELIVERED, Status.FAILED, Status.BOUNCED)


class Notification(models.Model):
    """One message to one account on one channel, and what became of it.

    `idempotency_key` names the trigger (an event id, a dunning step): the unique constraint
    on (key, channel) is what makes a trigger that runs twice send at most once.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="notifications")
    invoice = models.ForeignKey(
        "invoices.Invoice", on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    idempotency_key = models.CharField(max_length=200)
    recipient = models.CharField(max_length=254, blank=True)
    language = models.CharField(max_length=5, default="en")
    context = models.JSONField(default=dict, blank=True, help_text="The template variables, as formatted.")
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    send_after = models.DateTimeField(
        null=True, blank=True, help_text="Not before this time (quiet hours, retry back-off)."
    )
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last handed to the queue.")
    resend_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="resends")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        permissions = [("resend_notification", "Can resend notifications")]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key", "channel"], name="notification_idempotency_unique"),
            models.CheckConstraint(condition=models.Q(status__in=Status.values), name="notification_status_valid"),
            models.CheckConstraint(condition=models.Q(channel__in=Channel.values), name="notification_channel_valid"),
        ]
        indexes = [
            models.Index(fields=["status", "send_after"], name="notification_due"),
            models.Index(fields=["account", "-created_at"], name="notification_account_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.channel} to {self.recipient or '-'}"


class TemplatePart(models.TextChoices):
    EMAIL_SUBJECT = "email_subject", _("Email subject")
    EMAIL_TEXT = "email_text", _("Email text")
    EMAIL_HTML = "email_html", _("Email HTML")
    SMS = "sms", _("SMS text")
    PUSH_TITLE = "push_title", _("Push title")
    PUSH_BODY = "push_body", _("Push body")


class NotificationTemplate(models.Model):
    """A tenant's override of one shipped template part (kind, part, language).

    An empty language applies to every language without an override of its own. The shipped
    file `templates/notifications/<kind>/<part>` is used when there is none.
    """

    kind = models.CharField(max_length=40, choices=Kind.choices)
    part = models.CharField(max_length=20, choices=TemplatePart.choices)
    language = models.CharField(
        max_length=5,
        blank=True,
        choices=[("", _("Every language")), ("en", "English"), ("fr", "Français"), ("es", "Español")],
    )
    source = models.TextField(help_text=_("Django template syntax; the variables listed below are available."))
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "part", "language"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "part", "language"], name="notification_template_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} / {self.get_part_display()} ({self.language or 'all'})"


class NotificationPreference(models.Model):
    """An account's notification preferences beyond the account's channel switches.

    Channel opt-outs live on the account (`notify_by_email`, `notify_by_sms`,
    `notify_by_push`); this holds SMS quiet hours (in the account's timezone) and push
    routing.
    """

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="notification_preference")
    sms_quiet_hours_start = models.TimeField(null=True, blank=True, help_text=_("Blank: the tenant default."))
    sms_quiet_hours_end = models.TimeField(null=True, blank=True)
    quiet_hours_enabled = models.BooleanField(default=True)
    push_subscriber = models.CharField(
        max_length=200, blank=True, help_text=_("The platform's subscriber id for push; blank: the external id.")
    )

    def __str__(self) -> str:
        return f"preferences of {self.account_id}"


class NoticeCursor(models.Model):
    """How far the notice drain has read the tenant's outbox (one row per schema).

    Customer notices for domain events are recorded after the event's transaction commits, by
    `apps.notifications.outbox.drain_notices`, which reads events past `last_sequence` in
    sequence order. Sequences are gapless and given in commit order, so an event past the
    cursor is never skipped; the row is locked while a drain runs, so two drains never read
    the same events at once (and each notice's idempotency key makes a repeat send nothing).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    last_sequence = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="notice_cursor_single_row")]

    def __str__(self) -> str:
        return f"notices recorded up to event #{self.last_sequence}"
