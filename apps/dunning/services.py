"""Every change to a dunning case outside the daily run: pause, resume, resolve.

Lock order (shared with the ledger): the account row, then its dunning case. A payment
holds the account lock when its `payment.succeeded` reaches `case_resolve_if_cleared`, and
the daily run locks its accounts before their cases, so the two never deadlock.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from apps.accounts.models import Account, AccountStatus, SuspensionSource
from apps.accounts.services import account_lock, account_reactivate
from apps.core.actors import Actor, actor_label, require_permission
from apps.core.errors import InvalidTransition, ValidationFailed
from apps.core.money import money_str
from apps.core.tenancy import tenant_today
from apps.dunning.models import OPEN_STATUSES, CaseStatus, DunningCase, DunningStep
from apps.dunning.policies import window_end
from apps.events.services import publish
from apps.invoices.models import Invoice, InvoiceStatus


def case_event_data(case: DunningCase, **extra: Any) -> dict[str, Any]:
    return {"case": str(case.pk), "account": str(case.account_id), **extra}


def case_lock(case_id: Any) -> DunningCase:
    """Lock a case after its account (the shared lock order)."""
    account_id = DunningCase.objects.values_list("account_id", flat=True).get(pk=case_id)
    account_lock(account_id)
    return DunningCase.objects.select_for_update().select_related("account", "policy").get(pk=case_id)


def case_amount_due(case: DunningCase, *, today: dt.date | None = None) -> Decimal:
    """What the case's invoices (overdue, or inside a pre-due window) still owe today."""
    steps = list(DunningStep.objects.filter(policy_id=case.policy_id))
    end = window_end(steps, today or tenant_today())
    total = Invoice.objects.filter(
        account_id=case.account_id, status=InvoiceStatus.OPEN, amount_due__gt=0, due_date__lte=end
    ).aggregate(total=Sum("amount_due"))["total"]
    return total or Decimal(0)


def case_pause(*, case: DunningCase, reason: str, actor: Actor | None = None) -> DunningCase:
    """Stop a case's steps (e.g. a disputed invoice) until it is resumed; the reason is kept."""
    require_permission(actor, "dunning.pause_dunningcase", "pause dunning cases")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("say why the case is paused", field="reason")
    with transaction.atomic():
        locked = case_lock(case.pk)
        if locked.status == CaseStatus.PAUSED:
            return locked
        if locked.status not in (CaseStatus.ACTIVE, CaseStatus.SUSPENDED):
            raise InvalidTransition(f"a {locked.status} case cannot be paused")
        locked.status = CaseStatus.PAUSED
        locked.paused_reason = reason[:500]
        locked.paused_by = actor_label(actor)
        locked.paused_at = timezone.now()
        # No event: the catalogue (#5) has no dunning.paused; the case records who and why.
        locked.save(update_fields=["status", "paused_reason", "paused_by", "paused_at", "updated_at"])
    return locked


def case_resume(*, case: DunningCase, reason: str = "", actor: Actor | None = None) -> DunningCase:
    """Let a paused case go on; steps that fell due meanwhile follow the policy's catch-up rule."""
    require_permission(actor, "dunning.pause_dunningcase", "resume dunning cases")
    with transaction.atomic():
        locked = case_lock(case.pk)
        if locked.status != CaseStatus.PAUSED:
            raise InvalidTransition(f"only a paused case can be resumed; this one is {locked.status}")
        suspended = locked.suspended_account and locked.account.status == AccountStatus.SUSPENDED
        locked.status = CaseStatus.SUSPENDED if suspended else CaseStatus.ACTIVE
        locked.paused_reason = ""
        locked.paused_at = None
        locked.save(update_fields=["status", "paused_reason", "paused_at", "updated_at"])
    return locked


def case_resolve_locked(*, case: DunningCase, reason: str, recovered: Decimal | None = None) -> DunningCase:
    """Close a locked open case whose amount is cleared; give back service dunning took away.

    The caller holds the account and case locks (inside the transaction that cleared it).
    """
    case.status = CaseStatus.RESOLVED
    case.closed_at = timezone.now()
    case.resolution = reason[:500]
    case.amount_recovered = case.amount_due if recovered is None else recovered
    case.amount_due = Decimal(0)
    case.save(update_fields=["status", "closed_at", "resolution", "amount_recovered", "amount_due", "updated_at"])
    _reactivate_if_dunning_suspended(case, reason)
    publish(
        "dunning.resolved",
        str(case.pk),
        case_event_data(
            case,
            reason=reason,
            amount_recovered=money_str(case.amount_recovered, case.currency),
            currency=case.currency,
        ),
    )
    return case


def _reactivate_if_dunning_suspended(case: DunningCase, reason: str) -> None:
    account = Account.objects.get(pk=case.account_id)
    if not case.suspended_account:
        return
    if account.status != AccountStatus.SUSPENDED or account.suspension_source != SuspensionSource.DUNNING:
        return  # staff suspended it since, or it was already given back: not dunning's to undo
    # account.reactivated: apps.notifications tells the customer (one notice, keyed by the event).
    case.account = account_reactivate(account=account, reason=f"dunning resolved: {reason}")


_CASE_TO_REACT_TO = (
    f"SELECT id, status FROM {DunningCase._meta.db_table} WHERE account_id = %s"  # noqa: S608 - a table name
    " AND (status = ANY(%s) OR (status = %s AND suspended_account))"
    " ORDER BY closed_at DESC NULLS FIRST LIMIT 1"  # open cases are not closed: first
)


def case_resolve_if_cleared(*, account_id: Any, reason: str) -> DunningCase | None:
    """Resolve the account's open case when nothing it covers is owed any more.

    Runs inside the transaction of the payment, credit or void that cleared it (an
    in-transaction event handler), so no further step can run after the money arrived.
    """
    # One read for the usual answer (no case at all), on every payment: an open case if any,
    # else the latest written-off case whose suspension dunning may have to give back. Raw SQL:
    # the ORM took longer to compile this than PostgreSQL to run it.
    with connection.cursor() as cursor:
        cursor.execute(_CASE_TO_REACT_TO, [account_id, list(OPEN_STATUSES), CaseStatus.WRITTEN_OFF.value])
        found = cursor.fetchone()
    if found is None:
        return None
    if found[1] not in OPEN_STATUSES:
        return _reactivate_after_written_off(DunningCase.objects.get(pk=found[0]), reason)
    account_lock(account_id)
    case = DunningCase.objects.select_for_update().filter(account_id=account_id, status__in=OPEN_STATUSES).first()
    if case is None:
        return None
    remaining = case_amount_due(case)
    if remaining > 0:
        return None
    return case_resolve_locked(case=case, reason=reason)


def _reactivate_after_written_off(case: DunningCase, reason: str) -> DunningCase | None:
    """A written-off debt paid in full after all: the account dunning suspended gets its service back."""
    invoice_ids = list(case.overdue_invoices.values_list("invoice_id", flat=True))
    still_owed = Invoice.objects.filter(
        pk__in=invoice_ids, status__in=(InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE), amount_due__gt=0
    ).exists()
    if still_owed:
        return None
    account_lock(case.account_id)
    _reactivate_if_dunning_suspended(case, reason)
    return case
