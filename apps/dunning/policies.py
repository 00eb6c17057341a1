"""Which policy an account gets, and what a policy does when (selectors over small tables).

Resolution order: the account's own assignment, else the matching tag assignment with the
lowest priority number, else its currency's assignment, else the tenant default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.dunning.models import AssignmentKind, CatchUp, DunningAssignment, DunningPolicy, DunningStep


@dataclass(frozen=True)
class PlannedStep:
    step: DunningStep
    on: dt.date


class PolicyBook:
    """Every policy with its steps and minimums, and the assignments, loaded in a few queries."""

    def __init__(self, account_ids: Iterable[Any] | None = None) -> None:
        self.policies = {p.pk: p for p in DunningPolicy.objects.prefetch_related("steps", "minimums")}
        self.steps = {pk: sorted(p.steps.all(), key=_step_key) for pk, p in self.policies.items()}
        self.minimums = {pk: {m.currency: m.amount for m in p.minimums.all()} for pk, p in self.policies.items()}
        self.default = next((p for p in self.policies.values() if p.is_default), None)
        shared = DunningAssignment.objects.exclude(kind=AssignmentKind.ACCOUNT)
        self.by_tag = sorted(
            ((a.priority, a.tag, a.policy_id) for a in shared if a.kind == AssignmentKind.TAG), key=lambda t: t[:2]
        )
        self.by_currency = {a.currency: a.policy_id for a in shared if a.kind == AssignmentKind.CURRENCY}
        accounts = DunningAssignment.objects.filter(kind=AssignmentKind.ACCOUNT)
        if account_ids is not None:
            accounts = accounts.filter(account_id__in=list(account_ids))
        self.by_account = {a.account_id: a.policy_id for a in accounts}

    def policy_for(self, account: Any) -> DunningPolicy | None:
        policy_id = self.by_account.get(account.pk)
        if policy_id is None:
            tags = set(account.tags or [])
            policy_id = next((pid for _prio, tag, pid in self.by_tag if tag in tags), None)
        if policy_id is None:
            policy_id = self.by_currency.get(account.currency)
        if policy_id is None:
            return self.default
        return self.policies[policy_id]

    def minimum(self, policy: DunningPolicy, currency: str) -> Decimal:
        return self.minimums[policy.pk].get(currency, Decimal(0))

    @property
    def max_lead_days(self) -> int:
        """How many days before a due date the earliest pre-due step of any policy runs."""
        return max([0, *(-s.offset_days for steps in self.steps.values() for s in steps)])


def _step_key(step: DunningStep) -> tuple[int, str]:
    return (step.offset_days, step.action)


def lead_days(steps: list[DunningStep]) -> int:
    return max([0, *(-s.offset_days for s in steps)])


def window_end(steps: list[DunningStep], today: dt.date) -> dt.date:
    """Invoices due on or before this day belong to a case: overdue ones, plus those in a pre-due window."""
    lead = lead_days(steps)
    return today + dt.timedelta(days=lead) if lead else today - dt.timedelta(days=1)


def due_steps(
    steps: list[DunningStep], anchor: dt.date, today: dt.date, done: set[Any], catch_up: str
) -> tuple[list[PlannedStep], list[PlannedStep]]:
    """(steps to execute today, missed steps to record as skipped), none of them done before."""
    due = [
        PlannedStep(s, anchor + dt.timedelta(days=s.offset_days))
        for s in steps
        if s.pk not in done and anchor + dt.timedelta(days=s.offset_days) <= today
    ]
    if catch_up == CatchUp.ALL or not due:
        return due, []
    latest = max(p.on for p in due)
    return [p for p in due if p.on == latest], [p for p in due if p.on < latest]


def timeline(policy: DunningPolicy, due: dt.date) -> list[tuple[dt.date, DunningStep]]:
    """What the policy does for an invoice due on `due` (the admin's preview)."""
    return [(due + dt.timedelta(days=s.offset_days), s) for s in sorted(policy.steps.all(), key=_step_key)]
