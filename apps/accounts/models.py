"""Billing accounts (the customers being billed), the tenant's billing profile and numbering."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models

from apps.core.api.audit import audited
from apps.core.money import money_field


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class SuspensionSource(models.TextChoices):
    STAFF = "staff", "Staff or API"
    DUNNING = "dunning", "Dunning"


class Locale(models.TextChoices):
    EN = "en", "English"
    FR = "fr", "Français"
    ES = "es", "Español"


class BillingSettings(models.Model):
    """The tenant's billing profile: who issues the documents, numbering, default terms.

    One row per tenant schema (created by migration, so a new tenant starts usable).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    company_name = models.CharField(max_length=200, blank=True)
    company_address = models.TextField(blank=True)
    company_tax_id = models.CharField(max_length=64, blank=True)
    company_email = models.EmailField(blank=True)
    logo_url = models.URLField(blank=True, help_text="Shown on invoices and statements.")
    account_number_format = models.CharField(max_length=50, default="ACC-{seq:06d}")
    invoice_number_format = models.CharField(max_length=50, default="INV-{year}-{seq:06d}")
    credit_note_number_format = models.CharField(max_length=50, default="CN-{year}-{seq:06d}")
    default_payment_terms_days = models.PositiveSmallIntegerField(default=14)
    auto_apply_credit = models.BooleanField(
        default=True, help_text="Apply the account's unused credit to an invoice when it is finalized."
    )

    class Meta:
        verbose_name = "billing settings"
        verbose_name_plural = "billing settings"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="billing_settings_single_row")]

    def __str__(self) -> str:
        return "Billing settings"

    @classmethod
    def load(cls) -> BillingSettings:
        settings, _ = cls.objects.get_or_create(id=1)
        return settings


class NumberSequence(models.Model):
    """Gapless document numbers: one counter per (kind, period), incremented under a row lock."""

    kind = models.CharField(max_length=20)
    period = models.CharField(max_length=10, blank=True, help_text="The year for yearly sequences.")
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "period"], name="number_sequence_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.period}: {self.last_value}"


class Account(models.Model):
    """A customer being billed, with an exact running balance.

    `amount_due` (sum of its open invoices' amounts due) and `credit_balance` (unapplied
    payments and credit) are kept by the ledger services under this row's lock.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=40, unique=True, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +2348012345678")
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2")
    tax_id = models.CharField(max_length=64, blank=True)
    currency = models.CharField(max_length=3)
    locale = models.CharField(max_length=5, choices=Locale.choices, default=Locale.EN)
    timezone = models.CharField(max_length=64, default="UTC")
    status = models.CharField(max_length=10, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_source = models.CharField(max_length=10, choices=SuspensionSource.choices, blank=True)
    suspension_reason = models.CharField(max_length=500, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Blank: tenant default.")
    notify_by_email = models.BooleanField(default=True)
    notify_by_sms = models.BooleanField(default=True)
    notify_by_push = models.BooleanField(default=True)
    tags = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    amount_due = money_field(default=Decimal(0), editable=False)
    credit_balance = money_field(default=Decimal(0), editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = audited(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at"]
        permissions = [("suspend_account", "Can suspend and reactivate accounts")]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="account_status_created"),
            models.Index(fields=["name"], name="account_name"),
            models.Index(fields=["email"], name="account_email"),
            # The admin changelist's ordering.
            models.Index(fields=["-created_at", "id"], name="account_created_id"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_due__gte=0), name="account_amount_due_non_negative"),
            models.CheckConstraint(
                condition=models.Q(credit_balance__gte=0), name="account_credit_balance_non_negative"
            ),
            models.CheckConstraint(condition=models.Q(status__in=AccountStatus.values), name="account_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    @property
    def balance(self) -> Decimal:
        """Open amount due minus unapplied credit (negative when the account is in credit)."""
        return self.amount_due - self.credit_balance
