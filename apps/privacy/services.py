"""Data-protection verbs: export an account's personal data, anonymise an account. Audited.

Anonymisation erases what identifies the person and keeps the financial records the law
requires (docs/data-protection.md): finalized invoices and credit notes keep the customer's
name, address and tax id frozen on them (VAT invoices must show them, for the statutory
retention period), amounts, dates and references stay; e-mail, phone, free-form metadata,
saved card details and the account's own history lose every personal value.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Account, AccountStatus
from apps.accounts.services import account_lock
from apps.core.actors import Actor, actor_label, require_permission
from apps.core.errors import InvalidTransition
from apps.core.privacy import mask_data, mask_text
from apps.core.tenancy import current_schema
from apps.events.services import publish
from apps.invoices.models import Invoice
from apps.payments.models import Payment, PaymentMethodOnFile
from apps.privacy.export import account_export_data
from apps.privacy.models import DataProtectionRecord, RequestKind

ANONYMISED_NAME = "Anonymised {number}"
# What an anonymised account keeps: ids, number, currency, status and money; the rest is blank.
ERASED_ACCOUNT_FIELDS: dict[str, Any] = {
    "email": "",
    "phone": "",
    "address_line1": "",
    "address_line2": "",
    "city": "",
    "region": "",
    "postal_code": "",
    "tax_id": "",
    "external_id": None,
    "tags": [],
    "metadata": {},
    "suspension_reason": "",
    "notify_by_email": False,
    "notify_by_sms": False,
    "notify_by_push": False,
}
# Frozen on invoices but not required on one: erased from the snapshot.
SNAPSHOT_CONTACT_KEYS = ("email", "phone", "external_id")


def account_export(*, account: Account, actor: Actor | None, via: str, reason: str = "") -> dict[str, Any]:
    """Everything billing holds about `account` as JSON-ready data; the export is recorded."""
    require_permission(actor, "privacy.export_personal_data", "export personal data")
    with transaction.atomic():
        data = account_export_data(account=account)
        record = DataProtectionRecord.objects.create(
            account=account,
            kind=RequestKind.EXPORT,
            actor=actor_label(actor) if actor is not None else f"system ({via})",
            via=via,
            reason=reason,
            summary={
                section: len(rows) for section, rows in data.items() if isinstance(rows, list) and section != "events"
            },
        )
    return {
        **data,
        "tenant": current_schema(),
        "exported_at": record.created_at.isoformat(),
        "export_id": str(record.id),
    }


def _strip_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in snapshot.items() if key not in SNAPSHOT_CONTACT_KEYS}


def account_anonymise(*, account: Account, actor: Actor | None, via: str, reason: str = "") -> Account:
    """Erase the person behind a closed account, keep its financial records, publish
    `account.anonymised`. A second call returns the account unchanged (no second event)."""
    require_permission(actor, "privacy.anonymise_account", "anonymise accounts")
    with transaction.atomic():
        locked = account_lock(account.pk)
        if locked.data_protection_records.filter(kind=RequestKind.ANONYMISE).exists():
            return locked
        if locked.status != AccountStatus.CLOSED:
            raise InvalidTransition(
                "only a closed account can be anonymised (it owes nothing and holds no credit): close it first"
            )
        summary = _erase(locked)
        try:
            with transaction.atomic():
                DataProtectionRecord.objects.create(
                    account=locked,
                    kind=RequestKind.ANONYMISE,
                    actor=actor_label(actor) if actor is not None else f"system ({via})",
                    via=via,
                    reason=mask_text(reason),
                    summary=summary,
                )
        except IntegrityError as exc:  # a concurrent anonymisation won the account lock first
            raise InvalidTransition("this account is already being anonymised") from exc
        publish(
            "account.anonymised",
            str(locked.id),
            {"account": str(locked.id), "number": locked.number, "anonymised_at": timezone.now().isoformat()},
        )
    return locked


def _erase(account: Account) -> dict[str, int]:
    """Overwrite every personal value of `account` and its records; return counts per kind."""
    name = ANONYMISED_NAME.format(number=account.number)
    for field, value in ERASED_ACCOUNT_FIELDS.items():
        setattr(account, field, value)
    account.name = name
    account.save()
    # The account's audit history holds every past e-mail and address: erase them there too.
    history_rows = account.history.update(name=name, **ERASED_ACCOUNT_FIELDS)

    invoices = 0
    for invoice in Invoice.objects.select_for_update().filter(account=account).order_by("pk"):
        invoice.account_snapshot = _strip_snapshot(invoice.account_snapshot or {})
        invoice.metadata = mask_data(invoice.metadata or {})
        Invoice.objects.filter(pk=invoice.pk).update(
            account_snapshot=invoice.account_snapshot, metadata=invoice.metadata
        )
        for past in invoice.history.all():
            past.account_snapshot = _strip_snapshot(past.account_snapshot or {})
            past.metadata = mask_data(past.metadata or {})
            past.save(update_fields=["account_snapshot", "metadata"])
        invoices += 1

    payments = 0
    for payment in Payment.objects.select_for_update().filter(account=account).order_by("pk"):
        Payment.objects.filter(pk=payment.pk).update(
            metadata=mask_data(payment.metadata or {}), failure_message=mask_text(payment.failure_message)
        )
        for past in payment.history.all():
            past.metadata = mask_data(past.metadata or {})
            past.failure_message = mask_text(past.failure_message)
            past.save(update_fields=["metadata", "failure_message"])
        payments += 1

    cards = PaymentMethodOnFile.objects.filter(account=account).update(brand="", last4="")
    return {"account_history_rows": history_rows, "invoices": invoices, "payments": payments, "payment_methods": cards}
