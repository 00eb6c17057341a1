"""Invoices, their lines, tax rates and credit notes.

Amounts are stored with 4 decimal places and always hold values already quantised to the
invoice currency's minor unit (apps.core.money). Invariants that must never break are DB
CHECK constraints.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from apps.accounts.models import Account
from apps.core.api.audit import audited
from apps.core.money import money_field


class TaxRate(models.Model):
    """A tax (VAT 7.5%), exclusive (added on top) or inclusive (contained in the price)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    percentage = models.DecimalField(max_digits=7, decimal_places=4)
    inclusive = models.BooleanField(default=False)
    is_default = models.BooleanField(default=False, help_text="Prefilled on new invoice lines in the admin.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(percentage__gte=0) & Q(percentage__lte=100), name="tax_rate_percentage_range"
            )
        ]

    def __str__(self) -> str:
        kind = "incl." if self.inclusive else "excl."
        return f"{self.name} {self.percentage.normalize()}% {kind}"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    VOID = "void", "Void"
    UNCOLLECTIBLE = "uncollectible", "Uncollectible"


class Invoice(models.Model):
    """An invoice: editable as a draft, frozen (totals, number, account snapshot) once finalized."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=40, null=True, blank=True, unique=True, editable=False)
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    currency = models.CharField(max_length=3)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    memo = models.TextField(blank=True)
    subtotal = money_field(default=Decimal(0))
    tax = money_field(default=Decimal(0))
    total = money_field(default=Decimal(0))
    amount_paid = money_field(default=Decimal(0))
    amount_credited = money_field(default=Decimal(0))
    amount_due = money_field(default=Decimal(0))
    account_snapshot = models.JSONField(default=dict, blank=True, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    metadata = models.JSONField(default=dict, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    marked_uncollectible_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = audited(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("finalize_invoice", "Can finalize and send invoices"),
            ("void_invoice", "Can void invoices"),
            ("write_off_invoice", "Can mark invoices uncollectible"),
        ]
        indexes = [
            models.Index(fields=["status", "due_date"], name="invoice_status_due"),
            models.Index(fields=["account", "status", "due_date"], name="invoice_account_status_due"),
            models.Index(fields=["-created_at", "id"], name="invoice_created_id"),
            models.Index(fields=["currency", "status"], name="invoice_currency_status"),
            # One account's invoices, newest first (the account page, the changelist's account filter).
            models.Index(fields=["account", "-created_at", "id"], name="invoice_account_created"),
            # The admin's due-date range filter (without a status).
            models.Index(fields=["due_date"], name="invoice_due_date"),
            # The AR aging and the dashboard read open invoices only, from this index alone
            # (index-only scan): their cost follows the open invoices, not the whole history.
            models.Index(
                fields=["currency", "due_date"],
                include=["amount_due"],
                condition=Q(status="open"),
                name="invoice_open_currency_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=InvoiceStatus.values), name="invoice_status_valid"),
            models.CheckConstraint(condition=Q(total__gte=0), name="invoice_total_non_negative"),
            models.CheckConstraint(
                condition=Q(amount_paid__gte=0) & Q(amount_paid__lte=F("total")), name="invoice_amount_paid_range"
            ),
            models.CheckConstraint(
                condition=Q(amount_credited__gte=0) & Q(amount_credited__lte=F("total") - F("amount_paid")),
                name="invoice_amount_credited_range",
            ),
            models.CheckConstraint(
                condition=Q(amount_due=F("total") - F("amount_paid") - F("amount_credited")),
                name="invoice_amount_due_consistent",
            ),
            models.CheckConstraint(
                condition=Q(status=InvoiceStatus.DRAFT) | Q(number__isnull=False), name="invoice_number_once_final"
            ),
            models.CheckConstraint(
                condition=~Q(status=InvoiceStatus.PAID) | Q(amount_due=0), name="invoice_paid_means_nothing_due"
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft {str(self.id)[:8]}"

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT

    # Where a list prefetches the lines (Prefetch("lines", to_attr=...)): no manager per invoice.
    PREFETCHED_LINES = "prefetched_lines"

    @property
    def line_list(self) -> list[InvoiceLine]:
        """The lines in order: the prefetched ones when there are, else read now."""
        prefetched = self.__dict__.get(self.PREFETCHED_LINES)
        return list(prefetched) if prefetched is not None else list(self.lines.all())

    def days_overdue(self, today: date) -> int:
        """Days past the due date while something is still due (0 when not overdue)."""
        if self.status != InvoiceStatus.OPEN or self.due_date is None or self.amount_due <= 0:
            return 0
        return max((today - self.due_date).days, 0)


class InvoiceLine(models.Model):
    """One line: quantity x unit price, minus a discount, taxed by at most one rate."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal(1))
    unit_price = models.DecimalField(max_digits=20, decimal_places=6)
    discount = money_field(default=Decimal(0), help_text="An amount off this line.")
    tax_rate = models.ForeignKey(TaxRate, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Frozen with the totals: a later edit of the TaxRate never changes an issued invoice.
    tax_percentage = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal(0))
    tax_inclusive = models.BooleanField(default=False)
    net_amount = money_field(default=Decimal(0))
    tax_amount = money_field(default=Decimal(0))
    total = money_field(default=Decimal(0))

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="invoice_line_quantity_positive"),
            models.CheckConstraint(condition=Q(discount__gte=0), name="invoice_line_discount_non_negative"),
            models.CheckConstraint(condition=Q(total__gte=0), name="invoice_line_total_non_negative"),
        ]

    def __str__(self) -> str:
        return self.description


class CreditNote(models.Model):
    """A credit against an open or paid invoice; what the invoice no longer owes becomes credit."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=40, unique=True, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="credit_notes")
    currency = models.CharField(max_length=3)
    amount = money_field()
    amount_applied = money_field(default=Decimal(0), help_text="Applied to invoices so far.")
    reason = models.CharField(max_length=500)
    issue_date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("issue_credit_note", "Can issue credit notes")]
        indexes = [models.Index(fields=["account", "-created_at", "id"], name="credit_note_account_created")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_note_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_applied__gte=0) & Q(amount_applied__lte=F("amount")),
                name="credit_note_applied_range",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def unapplied(self) -> Decimal:
        return self.amount - self.amount_applied


class CreditApplication(models.Model):
    """Credit from a credit note applied to an invoice."""

    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="applications")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_applications")
    amount = money_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="credit_application_positive")]

    def __str__(self) -> str:
        return f"{self.credit_note} -> {self.invoice}: {self.amount}"
