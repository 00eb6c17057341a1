"""The daily run's work for a batch of accounts, in one transaction.

Per chunk (300 accounts by default): lock the accounts (pk order), then their open cases, read
their invoices and executed steps in a few queries, decide, execute each step in a
savepoint, then write the new cases, actions and overdue markers in bulk and publish the
chunk's events in one round trip (apps.dunning.outbox). Exactly once per (case, step):
the case lock serialises overlapping runs, and DunningAction's unique (case, step) turns
anything that slips past it into a rolled-back, retried chunk rather than a duplicate.

`retry_payment` is the one step that talks to a gateway: it is recorded `pending` in the
chunk's transaction and charged after commit (apps.dunning.charging), as the payments
service requires.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account, AccountStatus, SuspensionSource
from apps.accounts.services import account_suspend
from apps.core.copying import copy_insert
from apps.core.money import money_str
from apps.dunning import notify
from apps.dunning.models import (
    OPEN_STATUSES,
    Action,
    CaseStatus,
    DunningAction,
    DunningCase,
    DunningPolicy,
    DunningStep,
    Outcome,
    OverdueInvoice,
)
from apps.dunning.outbox import EventBatch
from apps.dunning.policies import PlannedStep, PolicyBook, due_steps, window_end
from apps.dunning.services import case_event_data, case_resolve_locked
from apps.invoices.models import Invoice, InvoiceStatus
from apps.invoices.services import invoice_event_data, invoice_mark_uncollectible
from apps.notifications.services import NotificationRequest

MISSED = "missed: the catch-up rule runs only the latest due step"
CHANNEL_OF: dict[str, str] = {
    Action.EMAIL_REMINDER: "email",
    Action.SMS_REMINDER: "sms",
    Action.PUSH_REMINDER: "push",
    Action.WEBHOOK_NOTICE: "webhook",
}


@dataclass
class ChunkResult:
    """What a chunk did: counts by (step, action, outcome) and amounts by (step, action, currency)."""

    accounts: int = 0
    started: int = 0
    resolved: int = 0
    actions: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    amounts: dict[tuple[str, str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    pending_charges: list[str] = field(default_factory=list)

    def count(self, step: DunningStep, outcome: str, amount: Decimal, currency: str) -> None:
        self.actions[(str(step), step.action, outcome)] += 1
        self.amounts[(str(step), step.action, currency)] += amount

    def as_json(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "started": self.started,
            "resolved": self.resolved,
            "actions": [[*key, n] for key, n in sorted(self.actions.items())],
            "amounts": [[*key, str(v)] for key, v in sorted(self.amounts.items())],
        }

    def merge_json(self, data: dict[str, Any]) -> None:
        self.accounts += data.get("accounts", 0)
        self.started += data.get("started", 0)
        self.resolved += data.get("resolved", 0)
        for step, action, outcome, n in data.get("actions", []):
            self.actions[(step, action, outcome)] += n
        for step, action, currency, value in data.get("amounts", []):
            self.amounts[(step, action, currency)] += Decimal(value)


class _Chunk:
    """State of one chunk's transaction."""

    def __init__(self, as_of: dt.date, dry_run: bool, careful: bool) -> None:
        self.as_of = as_of
        self.dry_run = dry_run
        self.careful = careful
        self.now = timezone.now()
        self.events = EventBatch()
        self.actions: list[DunningAction] = []
        self.overdue: list[OverdueInvoice] = []
        self.changed: dict[Any, DunningCase] = {}
        self.notices: list[_DeferredNotice] = []
        self.result = ChunkResult()


@dataclass
class _DeferredNotice:
    """A reminder or final notice recorded now and sent with the chunk's others (`_send_notices`)."""

    action: DunningAction
    step: DunningStep
    currency: str
    request: NotificationRequest
    event_data: dict[str, Any]


def process_accounts(
    *, account_ids: list[Any], as_of: dt.date, dry_run: bool = False, careful: bool = False
) -> ChunkResult:
    """Run dunning for these accounts as of `as_of` (the tenant's today) inside the caller's transaction.

    By default a failing step fails the whole chunk (no savepoint per step: they cost two
    round trips each); `chunk_with_fallback` then does the chunk again `careful`ly, each
    step in a savepoint and a failing one recorded as `failed`.
    """
    chunk = _Chunk(as_of, dry_run, careful)
    # Lock order: accounts (pk order), then their cases; a payment holds the account first too.
    accounts = list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk"))
    book = PolicyBook(account_ids=[a.pk for a in accounts])
    horizon = as_of + dt.timedelta(days=book.max_lead_days)
    invoices: dict[Any, list[Invoice]] = defaultdict(list)
    for invoice in (
        Invoice.objects.filter(
            account_id__in=[a.pk for a in accounts],
            status=InvoiceStatus.OPEN,
            amount_due__gt=0,
            due_date__lte=horizon,
        )
        .only(
            "id",
            "account_id",
            "number",
            "status",
            "currency",
            "total",
            "amount_paid",
            "amount_due",
            "issue_date",
            "due_date",
        )
        .order_by("due_date", "pk")
    ):
        invoices[invoice.account_id].append(invoice)
    cases = {
        c.account_id: c
        for c in DunningCase.objects.select_for_update().filter(
            account_id__in=[a.pk for a in accounts], status__in=OPEN_STATUSES
        )
    }
    done: dict[Any, set[Any]] = defaultdict(set)
    for case_id, step_id in DunningAction.objects.filter(case__in=list(cases.values())).values_list(
        "case_id", "step_id"
    ):
        done[case_id].add(step_id)
    seen = set(
        OverdueInvoice.objects.filter(invoice_id__in=[i.pk for invs in invoices.values() for i in invs]).values_list(
            "invoice_id", flat=True
        )
    )

    new_cases: list[DunningCase] = []
    work: list[tuple[DunningCase, list[Invoice], Decimal]] = []
    for account in accounts:
        chunk.result.accounts += 1
        case = cases.get(account.pk)
        if case is not None and case.status == CaseStatus.PAUSED:
            continue
        policy = book.policies[case.policy_id] if case is not None else book.policy_for(account)
        if policy is None:
            continue
        steps = book.steps[policy.pk]
        end = window_end(steps, as_of)
        mine = [i for i in invoices[account.pk] if i.due_date is not None and i.due_date <= end]
        amount = sum((i.amount_due for i in mine), Decimal(0))
        if case is not None:
            case.account, case.policy = account, policy
            if amount <= 0:
                case_resolve_locked(case=case, reason="cleared")
                chunk.result.resolved += 1
                continue
        else:
            if amount <= 0 or not steps or account.status == AccountStatus.CLOSED:
                continue
            if amount < book.minimum(policy, account.currency):
                continue
            anchor = min(i.due_date for i in mine if i.due_date is not None)
            if anchor + dt.timedelta(days=steps[0].offset_days) > as_of:
                continue  # no step due yet
            case = DunningCase(
                account=account,
                policy=policy,
                anchor_date=anchor,
                currency=account.currency,
                amount_at_start=amount,
                amount_due=amount,
            )
            new_cases.append(case)
            chunk.result.started += 1
            chunk.events.add(
                "dunning.started",
                case.pk,
                case_event_data(
                    case,
                    policy=str(policy.pk),
                    invoices=[str(i.pk) for i in mine],
                    amount_due=money_str(amount, account.currency),
                    currency=account.currency,
                ),
            )
        work.append((case, mine, amount))
    copy_insert(DunningCase, new_cases)

    for case, mine, amount in work:
        if case.amount_due != amount:
            case.amount_due = amount
            chunk.changed[case.pk] = case
        for invoice in mine:
            if invoice.due_date is not None and invoice.due_date < as_of and invoice.pk not in seen:
                chunk.overdue.append(OverdueInvoice(invoice=invoice, case=case, seen_on=as_of))
                days = (as_of - invoice.due_date).days
                chunk.events.add("invoice.overdue", invoice.pk, {**invoice_event_data(invoice), "days_overdue": days})
        steps = book.steps[case.policy_id]
        execute, missed = due_steps(steps, case.anchor_date, as_of, done[case.pk], case.policy.catch_up)
        for planned in missed:
            _record(chunk, case, planned, mine, outcome=Outcome.SKIPPED, detail=MISSED)
        for planned in execute:
            if case.status not in OPEN_STATUSES:
                break  # written off by an earlier step of the same day
            _execute(chunk, case, planned, mine)

    _send_notices(chunk)
    copy_insert(OverdueInvoice, chunk.overdue)
    copy_insert(DunningAction, chunk.actions)
    if chunk.changed:
        for changed in chunk.changed.values():
            changed.updated_at = chunk.now
        DunningCase.objects.bulk_update(
            list(chunk.changed.values()),
            ["status", "amount_due", "suspended_account", "closed_at", "resolution", "updated_at"],
        )
    chunk.events.flush()
    chunk.result.pending_charges = [str(a.pk) for a in chunk.actions if a.outcome == Outcome.PENDING]
    return chunk.result


def _record(
    chunk: _Chunk,
    case: DunningCase,
    planned: PlannedStep,
    invoices: list[Invoice],
    *,
    outcome: str,
    detail: str = "",
    notification_ids: list[str] | None = None,
    request: NotificationRequest | None = None,
) -> DunningAction:
    """Record the step's action (and its dunning.step_executed event, unless pending).

    With `request`, the step's notice is sent later with the chunk's others: the outcome is
    filled in by `_send_notices`, into the action and the event reserved here (event order kept).
    """
    step = planned.step
    invoice = invoices[0] if invoices else None
    action = DunningAction(
        case=case,
        step=step,
        action=step.action,
        offset_days=step.offset_days,
        scheduled_for=planned.on,
        run_date=chunk.as_of,
        executed_at=chunk.now,
        outcome=outcome,
        detail=detail[:500],
        invoice=invoice,
        amount_due=case.amount_due,
        notification_ids=notification_ids or [],
    )
    chunk.actions.append(action)
    if request is not None:
        data = step_event_data(case, action)
        chunk.events.add("dunning.step_executed", case.pk, data)
        chunk.notices.append(_DeferredNotice(action, step, case.currency, request, data))
        return action
    chunk.result.count(step, outcome, case.amount_due, case.currency)
    if outcome != Outcome.PENDING:
        chunk.events.add("dunning.step_executed", case.pk, step_event_data(case, action))
    return action


def _send_notices(chunk: _Chunk) -> None:
    """The chunk's reminders and final notices in one batch (apps.notifications' send_notifications)."""
    if not chunk.notices:
        return
    notices = notify.send_many([deferred.request for deferred in chunk.notices])
    for deferred, notice in zip(chunk.notices, notices, strict=True):
        action = deferred.action
        action.outcome, action.detail = notice.outcome, notice.detail[:500]
        action.notification_ids = notice.notification_ids
        deferred.event_data["outcome"] = action.outcome
        if action.detail:
            deferred.event_data["detail"] = action.detail
        chunk.result.count(deferred.step, action.outcome, action.amount_due, deferred.currency)
    chunk.notices = []


def step_event_data(case: DunningCase, action: DunningAction) -> dict[str, Any]:
    data = case_event_data(
        case,
        step=str(action.step_id),
        action=action.action,
        outcome=action.outcome,
        offset_days=action.offset_days,
    )
    if action.invoice_id:
        data["invoice"] = str(action.invoice_id)
    if action.detail:
        data["detail"] = action.detail
    return data


def _execute(chunk: _Chunk, case: DunningCase, planned: PlannedStep, invoices: list[Invoice]) -> None:
    step = planned.step
    if step.action == Action.RETRY_PAYMENT:
        if chunk.dry_run:
            _record(chunk, case, planned, invoices, outcome=Outcome.SKIPPED, detail="dry run: no charge")
        else:
            _record(chunk, case, planned, invoices, outcome=Outcome.PENDING, detail="charge after commit")
        return
    invoice = invoices[0] if invoices else None
    if not chunk.careful and (step.action in CHANNEL_OF or step.action == Action.FINAL_NOTICE):
        request = notify.notice_request(case, step, invoice, channel=CHANNEL_OF.get(step.action))
        _record(chunk, case, planned, invoices, outcome=Outcome.SUCCEEDED, request=request)
        return
    if not chunk.careful:
        notice = _perform(chunk, case, step, invoices, invoice)
        _record(
            chunk,
            case,
            planned,
            invoices,
            outcome=notice.outcome,
            detail=notice.detail,
            notification_ids=notice.notification_ids,
        )
        if step.action == Action.ESCALATE:
            chunk.events.add("dunning.escalated", case.pk, case_event_data(case, step=str(step.pk)))
        return
    before = (case.account, case.status, case.suspended_account, case.closed_at, case.resolution)
    was_changed = case.pk in chunk.changed
    try:
        # A savepoint: a step that fails leaves the rest of the chunk (and its own record) intact.
        with transaction.atomic():
            notice = _perform(chunk, case, step, invoices, invoice)
    except Exception as exc:
        case.account, case.status, case.suspended_account, case.closed_at, case.resolution = before
        if not was_changed:
            chunk.changed.pop(case.pk, None)
        _record(chunk, case, planned, invoices, outcome=Outcome.FAILED, detail=f"{type(exc).__name__}: {exc}")
        return
    _record(
        chunk,
        case,
        planned,
        invoices,
        outcome=notice.outcome,
        detail=notice.detail,
        notification_ids=notice.notification_ids,
    )
    if step.action == Action.ESCALATE:
        chunk.events.add("dunning.escalated", case.pk, case_event_data(case, step=str(step.pk)))


def _perform(
    chunk: _Chunk, case: DunningCase, step: DunningStep, invoices: list[Invoice], invoice: Invoice | None
) -> notify.Notice:
    action = step.action
    if action in CHANNEL_OF:
        return notify.reminder(case, step, invoice, channel=CHANNEL_OF[action])
    if action == Action.FINAL_NOTICE:
        return notify.final_notice(case, step, invoice)
    if action == Action.ESCALATE:
        return notify.escalation(case, step, invoice)
    if action == Action.SUSPEND_ACCOUNT:
        return _suspend(chunk, case)
    if action == Action.WRITE_OFF:
        return _write_off(chunk, case, invoices)
    raise ValueError(f"unknown dunning action {action!r}")


def _suspend(chunk: _Chunk, case: DunningCase) -> notify.Notice:
    account = case.account
    if account.status != AccountStatus.ACTIVE:
        return notify.Notice(Outcome.SKIPPED, f"the account is already {account.status}")
    reason = f"dunning: {money_str(case.amount_due, case.currency)} {case.currency} overdue since {case.anchor_date}"
    case.account = account_suspend(account=account, reason=reason, source=SuspensionSource.DUNNING)
    case.status = CaseStatus.SUSPENDED
    case.suspended_account = True
    chunk.changed[case.pk] = case
    notice = notify.account_suspended(case)  # sends nothing: the account.suspended event did
    return notify.Notice(Outcome.SUCCEEDED, f"account suspended; {notice.detail}", notice.notification_ids)


def _write_off(chunk: _Chunk, case: DunningCase, invoices: list[Invoice]) -> notify.Notice:
    overdue = [i for i in invoices if i.due_date is not None and i.due_date < chunk.as_of]
    for invoice in overdue:
        invoice_mark_uncollectible(invoice=invoice, reason=f"dunning write-off (case {case.pk})")
    case.status = CaseStatus.WRITTEN_OFF
    case.closed_at = chunk.now
    case.resolution = f"written off: {len(overdue)} invoice(s)"
    chunk.changed[case.pk] = case
    return notify.Notice(Outcome.SUCCEEDED, case.resolution)


def chunk_with_fallback(*, account_ids: list[Any], as_of: dt.date, dry_run: bool = False) -> ChunkResult:
    """`process_accounts` in a savepoint; if anything fails, again with a savepoint per step."""
    try:
        with transaction.atomic():
            return process_accounts(account_ids=account_ids, as_of=as_of, dry_run=dry_run)
    except Exception:
        with transaction.atomic():
            return process_accounts(account_ids=account_ids, as_of=as_of, dry_run=dry_run, careful=True)


__all__ = ["ChunkResult", "DunningPolicy", "chunk_with_fallback", "process_accounts", "step_event_data"]
