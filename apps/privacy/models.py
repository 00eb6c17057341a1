"""The audit trail of data-protection requests: who exported or anonymised whose data, and why."""

from __future__ import annotations

import uuid

from django.db import models

from apps.accounts.models import Account


class RequestKind(models.TextChoices):
    EXPORT = "export", "Export"
    ANONYMISE = "anonymise", "Anonymisation"


class DataProtectionRecord(models.Model):
    """One export or anonymisation of an account's personal data (kept as long as the account)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="data_protection_records")
    kind = models.CharField(max_length=10, choices=RequestKind.choices)
    actor = models.CharField(max_length=200, help_text="Who asked: staff user, API caller or command.")
    via = models.CharField(max_length=10, help_text="api, admin or command")
    reason = models.CharField(max_length=500, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="What was exported or erased (counts).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "data protection record"
        permissions = [
            ("export_personal_data", "Can export an account's personal data"),
            ("anonymise_account", "Can anonymise an account"),
        ]
        constraints = [
            # An account is anonymised once: a retry returns the first result, never a second event.
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(kind="anonymise"), name="privacy_anonymised_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.account_id} by {self.actor}"
