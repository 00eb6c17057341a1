"""Dunning: policies and their steps, who gets which policy, cases and the actions taken.

A case is per ACCOUNT, not per invoice: suspension and reactivation act on the account, and
a customer with three unpaid monthly invoices should get one stream of reminders, not
three. The case is anchored on the due date of the oldest unpaid invoice it covers; later
invoices of the same account join the open case. Once the case's amount is cleared it is
resolved, and the next overdue invoice opens a new case (with a new anchor).

Exactly once per (case, step) is a database fact: `DunningAction` is unique on (case, step),
and the run takes the case's row lock before it decides anything.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

from apps.accounts.models import Account
from apps.core.money import money_field
from apps.invoices.models import Invoice


class Action(models.TextChoices):
    EMAIL_REMINDER = "email_reminder", "Email reminder"
    SMS_REMINDER = "sms_reminder", "SMS reminder"
    PUSH_REMINDER = "push_reminder", "Push reminder"
    WEBHOOK_NOTICE = "webhook_notice", "Webhook-only notice"
    RETRY_PAYMENT = "retry_payment", "Retry the payment (saved method)"
    ESCALATE = "escalate", "Escalate to finance staff"
    FINAL_NOTICE = "final_notice", "Final notice"
    SUSPEND_ACCOUNT = "suspend_account", "Suspend the account"
    WRITE_OFF = "write_off", "Write off (invoice uncollectible)"


class CatchUp(models.TextChoices):
    LATEST = "latest", "Only the latest due step"
    ALL = "all", "Every missed step, in order"


class DunningPolicy(models.Model):
    """An ordered list of steps; one policy is the tenant's default (created by migration)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False, help_text="Used for accounts no assignment matches.")
    catch_up = models.CharField(
        max_length=10,
        choices=CatchUp.choices,
        default=CatchUp.LATEST,
        help_text="A case that missed days (workers down) runs only the latest due step, or every missed one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "dunning policies"
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="dunning_one_default")
        ]

    def __str__(self) -> str:
        return self.name


class DunningStep(models.Model):
    """One step: `action` on due date + `offset_days` (negative: a pre-due reminder)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="steps")
    offset_days = models.IntegerField(help_text="Days after the due date (negative: before it).")
    action = models.CharField(max_length=20, choices=Action.choices)
    note = models.CharField(max_length=200, blank=True, help_text="Shown to staff, e.g. who to escalate to.")

    class Meta:
        ordering = ["offset_days", "action"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "offset_days", "action"], name="dunning_step_unique"),
            models.CheckConstraint(condition=Q(action__in=Action.values), name="dunning_step_action_valid"),
            models.CheckConstraint(
                condition=Q(offset_days__gte=-365) & Q(offset_days__lte=3650), name="dunning_step_offset_range"
            ),
        ]

    def __str__(self) -> str:
        sign = "+" if self.offset_days >= 0 else "-"
        return f"D{sign}{abs(self.offset_days)} {self.get_action_display()}"


class DunningMinimum(models.Model):
    """Below this overdue amount in `currency`, the policy does not start a case."""

    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="minimums")
    currency = models.CharField(max_length=3)
    amount = money_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "currency"], name="dunning_minimum_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="dunning_minimum_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.policy}: {self.amount} {self.currency}"


class AssignmentKind(models.TextChoices):
    ACCOUNT = "account", "One account"
    TAG = "tag", "Accounts with a tag"
    CURRENCY = "currency", "Accounts in a currency"


class DunningAssignment(models.Model):
    """Which policy an account gets: its own assignment, else a tag's, else its currency's, else the default."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="assignments")
    kind = models.CharField(max_length=10, choices=AssignmentKind.choices)
    account = models.OneToOneField(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="dunning_assignment"
    )
    tag = models.CharField(max_length=50, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower wins among matching tags.")

    class Meta:
        ordering = ["kind", "priority"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind=AssignmentKind.ACCOUNT, account__isnull=False, tag="", currency="")
                    | Q(kind=AssignmentKind.TAG, account__isnull=True, currency="") & ~Q(tag="")
                    | Q(kind=AssignmentKind.CURRENCY, account__isnull=True, tag="") & ~Q(currency="")
                ),
                name="dunning_assignment_target",
            ),
            models.UniqueConstraint(fields=["tag"], condition=Q(kind="tag"), name="dunning_assignment_tag_unique"),
            models.UniqueConstraint(
                fields=["currency"], condition=Q(kind="currency"), name="dunning_assignment_currency_unique"
            ),
        ]

    def __str__(self) -> str:
        target = self.account or self.tag or self.currency
        return f"{self.get_kind_display()} {target} -> {self.policy}"


class CaseStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    RESOLVED = "resolved", "Resolved"
    SUSPENDED = "suspended", "Suspended"
    WRITTEN_OFF = "written_off", "Written off"


OPEN_STATUSES = (CaseStatus.ACTIVE, CaseStatus.PAUSED, CaseStatus.SUSPENDED)


class DunningCase(models.Model):
    """One account's dunning, from the first due step until the overdue amount is cleared.

    At most one open (active, paused or suspended) case per account: a DB constraint.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="dunning_cases")
    policy = models.ForeignKey(DunningPolicy, on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(max_length=12, choices=CaseStatus.choices, default=CaseStatus.ACTIVE)
    anchor_date = models.DateField(help_text="Due date of the oldest invoice the case covers: steps count from it.")
    currency = models.CharField(max_length=3)
    amount_at_start = money_field(default=Decimal(0))
    amount_due = money_field(default=Decimal(0), help_text="What the case's invoices still owe (at the last run).")
    amount_recovered = money_field(default=Decimal(0))
    suspended_account = models.BooleanField(default=False, help_text="Dunning suspended the account.")
    paused_reason = models.CharField(max_length=500, blank=True)
    paused_by = models.CharField(max_length=150, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=500, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at"]
        permissions = [("pause_dunningcase", "Can pause and resume dunning cases")]
        indexes = [
            models.Index(fields=["status", "anchor_date"], name="dunning_case_status_anchor"),
            models.Index(fields=["account", "-opened_at"], name="dunning_case_account"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(status__in=OPEN_STATUSES), name="dunning_case_one_open_per_account"
            ),
            models.CheckConstraint(condition=Q(status__in=CaseStatus.values), name="dunning_case_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Dunning {self.account_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Outcome(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class DunningAction(models.Model):
    """A step executed for a case: exactly one per (case, step), whatever the runs do."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(DunningCase, on_delete=models.CASCADE, related_name="actions")
    step = models.ForeignKey(DunningStep, on_delete=models.PROTECT, related_name="actions")
    action = models.CharField(max_length=20, choices=Action.choices)
    offset_days = models.IntegerField()
    scheduled_for = models.DateField(help_text="anchor + offset: the tenant-local day the step fell due.")
    run_date = models.DateField(help_text="The tenant-local day of the run that executed it.")
    executed_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.CharField(max_length=500, blank=True)
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    amount_due = money_field(default=Decimal(0), help_text="The case's amount when the step ran.")
    notification_ids = models.JSONField(default=list, blank=True)
    charge_attempt_id = models.UUIDField(null=True, blank=True)
    payment_id = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="A pending charge being made since.")

    class Meta:
        ordering = ["executed_at"]
        indexes = [models.Index(fields=["executed_at"], name="dunning_action_executed")]
        constraints = [
            models.UniqueConstraint(fields=["case", "step"], name="dunning_action_once_per_step"),
            models.CheckConstraint(condition=Q(outcome__in=Outcome.values), name="dunning_action_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome} ({self.run_date})"


class OverdueInvoice(models.Model):
    """An invoice dunning has seen overdue: `invoice.overdue` is published once, when this row is made."""

    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, primary_key=True, related_name="+")
    case = models.ForeignKey(DunningCase, on_delete=models.CASCADE, related_name="overdue_invoices")
    seen_on = models.DateField()

    def __str__(self) -> str:
        return f"{self.invoice_id} overdue since {self.seen_on}"


class DunningRun(models.Model):
    """One run of a tenant's dunning for a day: the command waits on its chunks."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    as_of = models.DateField()
    dry_run = models.BooleanField(default=False)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"dunning run {self.as_of}"


class DunningRunChunk(models.Model):
    """A batch of accounts one task handles; `done_at` set in the batch's last transaction."""

    run = models.ForeignKey(DunningRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    account_ids = models.JSONField(default=list)
    done_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="dunning_chunk_unique")]

    def __str__(self) -> str:
        return f"chunk {self.index} of {self.run_id}"
