"""Every change to an Account goes through here: one function per verb, atomic, evented."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal
from typing import Any

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Account, AccountStatus, BillingSettings, Locale, SuspensionSource
from apps.accounts.numbering import next_number
from apps.core.actors import Actor, require_permission
from apps.core.errors import InvalidTransition, ValidationFailed
from apps.core.money import is_known_currency, money_str
from apps.core.tenancy import tenant_today
from apps.events.services import publish

EDITABLE_FIELDS = {
    "external_id",
    "name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "tax_id",
    "locale",
    "timezone",
    "payment_terms_days",
    "notify_by_email",
    "notify_by_sms",
    "notify_by_push",
    "tags",
    "metadata",
}


def normalize_phone(phone: str) -> str:
    """Return the E.164 form of `phone`, or raise ValidationFailed."""
    if not phone:
        return ""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(f"{phone!r} is not an E.164 phone number (+<country><number>)", field="phone") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationFailed(f"{phone!r} is not a valid phone number", field="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - EDITABLE_FIELDS - {"currency"}
    if unknown:
        raise ValidationFailed(f"unknown account field(s): {', '.join(sorted(unknown))}")
    cleaned = dict(fields)
    if "name" in cleaned and not str(cleaned["name"]).strip():
        raise ValidationFailed("an account needs a name", field="name")
    if "phone" in cleaned:
        cleaned["phone"] = normalize_phone(cleaned["phone"] or "")
    if cleaned.get("external_id") == "":
        cleaned["external_id"] = None
    if "locale" in cleaned and cleaned["locale"] not in Locale.values:
        raise ValidationFailed(f"locale must be one of {', '.join(Locale.values)}", field="locale")
    if "timezone" in cleaned and cleaned["timezone"] not in zoneinfo.available_timezones():
        raise ValidationFailed(f"unknown timezone {cleaned['timezone']!r}", field="timezone")
    if cleaned.get("country"):
        cleaned["country"] = str(cleaned["country"]).upper()
    return cleaned


def _event_data(account: Account) -> dict[str, Any]:
    return {
        "account": str(account.id),
        "number": account.number,
        "external_id": account.external_id,
        "status": account.status,
    }


def account_create(*, name: str, currency: str, actor: Actor | None = None, **fields: Any) -> Account:
    """Open a billing account; it gets the next account number."""
    require_permission(actor, "accounts.add_account", "create accounts")
    currency = (currency or "").strip().upper()
    if not is_known_currency(currency):
        raise ValidationFailed(f"unknown currency {currency!r}", field="currency")
    cleaned = _clean({"name": name, **fields})
    with transaction.atomic():
        settings = BillingSettings.load()
        account = Account(currency=currency, **cleaned)
        account.number = next_number("account", settings.account_number_format, on=tenant_today())
        try:
            with transaction.atomic():
                account.save()
        except IntegrityError as exc:
            raise ValidationFailed(
                f"an account with external_id {cleaned.get('external_id')!r} already exists", field="external_id"
            ) from exc
        publish("account.created", str(account.id), _event_data(account))
    return account


def account_update(*, account: Account, actor: Actor | None = None, **fields: Any) -> Account:
    """Change an account's details (not its currency, status or balance)."""
    require_permission(actor, "accounts.change_account", "change accounts")
    if "currency" in fields and fields["currency"] != account.currency:
        raise ValidationFailed("an account's currency cannot change", field="currency")
    fields.pop("currency", None)
    cleaned = _clean(fields)
    with transaction.atomic():
        locked = account_lock(account.pk)
        changed = [name for name, value in cleaned.items() if getattr(locked, name) != value]
        for name in changed:
            setattr(locked, name, cleaned[name])
        if changed:
            try:
                with transaction.atomic():
                    locked.save(update_fields=[*changed, "updated_at"])
            except IntegrityError as exc:
                raise ValidationFailed("another account has that external_id", field="external_id") from exc
            publish("account.updated", str(locked.id), {**_event_data(locked), "changed": sorted(changed)})
    return locked


def account_lock(account_id: Any) -> Account:
    """Lock the account row: every balance change of the account goes through this lock.

    Lock order everywhere: account, then its invoices by id, then payments by id.
    """
    return Account.objects.select_for_update().get(pk=account_id)


def account_suspend(
    *,
    account: Account,
    reason: str = "",
    source: str = SuspensionSource.STAFF,
    actor: Actor | None = None,
) -> Account:
    """Suspend an account (the platform cuts its service on `account.suspended`)."""
    require_permission(actor, "accounts.suspend_account", "suspend accounts")
    with transaction.atomic():
        locked = account_lock(account.pk)
        if locked.status == AccountStatus.CLOSED:
            raise InvalidTransition("a closed account cannot be suspended")
        if locked.status == AccountStatus.SUSPENDED:
            return locked
        locked.status = AccountStatus.SUSPENDED
        locked.suspended_at = timezone.now()
        locked.suspension_source = source
        locked.suspension_reason = reason
        locked.save(update_fields=["status", "suspended_at", "suspension_source", "suspension_reason", "updated_at"])
        publish("account.suspended", str(locked.id), {**_event_data(locked), "reason": reason, "source": source})
    return locked


def account_reactivate(*, account: Account, reason: str = "", actor: Actor | None = None) -> Account:
    """Lift a suspension (the platform restores service on `account.reactivated`)."""
    require_permission(actor, "accounts.suspend_account", "reactivate accounts")
    with transaction.atomic():
        locked = account_lock(account.pk)
        if locked.status == AccountStatus.CLOSED:
            raise InvalidTransition("a closed account cannot be reactivated")
        if locked.status == AccountStatus.ACTIVE:
            return locked
        previous_source = locked.suspension_source
        locked.status = AccountStatus.ACTIVE
        locked.suspended_at = None
        locked.suspension_source = ""
        locked.suspension_reason = ""
        locked.save(update_fields=["status", "suspended_at", "suspension_source", "suspension_reason", "updated_at"])
        publish(
            "account.reactivated",
            str(locked.id),
            {**_event_data(locked), "reason": reason, "suspended_by": previous_source},
        )
    return locked


def account_close(*, account: Account, actor: Actor | None = None) -> Account:
    """Close an account that owes nothing and holds no credit."""
    require_permission(actor, "accounts.delete_account", "close accounts")
    with transaction.atomic():
        locked = account_lock(account.pk)
        if locked.status == AccountStatus.CLOSED:
            return locked
        if locked.amount_due != Decimal(0):
            raise InvalidTransition(
                f"the account still owes {money_str(locked.amount_due, locked.currency)} {locked.currency}"
            )
        if locked.credit_balance != Decimal(0):
            raise InvalidTransition(
                f"the account still holds {money_str(locked.credit_balance, locked.currency)} "
                f"{locked.currency} of credit"
            )
        if locked.invoices.filter(status="draft").exists():
            raise InvalidTransition("the account has draft invoices; delete or finalize them first")
        locked.status = AccountStatus.CLOSED
        locked.closed_at = timezone.now()
        locked.save(update_fields=["status", "closed_at", "updated_at"])
        publish("account.closed", str(locked.id), _event_data(locked))
    return locked


def account_adjust_balances(
    *, account: Account, amount_due_delta: Decimal = Decimal(0), credit_delta: Decimal = Decimal(0)
) -> None:
    """Move the account's running totals; the caller holds the account lock (account_lock)."""
    account.amount_due += amount_due_delta
    account.credit_balance += credit_delta
    account.save(update_fields=["amount_due", "credit_balance", "updated_at"])
