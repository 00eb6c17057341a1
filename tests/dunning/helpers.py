"""Dunning test helpers: runs done in-process through the same services the tasks call."""

from __future__ import annotations

import datetime as dt
from typing import Any

from apps.accounts.models import Account
from apps.dunning.engine import ChunkResult
from apps.dunning.models import DunningAction, DunningPolicy, DunningStep
from apps.dunning.runs import chunk_process, run_start
from apps.events.models import Event
from apps.invoices.models import Invoice
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice


def run_inline(as_of: dt.date | None = None) -> ChunkResult:
    """A whole run in this process: plan it, then do each chunk as the task would."""
    run = run_start(as_of=as_of, enqueue=False)
    assert run is not None
    total = ChunkResult()
    for chunk_id in run.chunks.order_by("index").values_list("pk", flat=True):
        total.merge_json(chunk_process(chunk_id=chunk_id))
    return total


def overdue_account(due: dt.date, amount: str = "25000.00", **fields: Any) -> tuple[Account, Invoice]:
    account = AccountFactory(**fields)
    return account, open_invoice(account, amount, due_date=due)


def actions_of(account: Account) -> list[tuple[str, int, str]]:
    return [
        (a.action, a.offset_days, a.outcome)
        for a in DunningAction.objects.filter(case__account=account).order_by("scheduled_for", "action")
    ]


def events_of(event_type: str, **data: str) -> list[Event]:
    return [e for e in Event.objects.filter(type=event_type) if all(e.data.get(k) == v for k, v in data.items())]


def make_policy(name: str, *steps: tuple[int, str], catch_up: str = "latest") -> DunningPolicy:
    policy = DunningPolicy.objects.create(name=name, catch_up=catch_up)
    for offset, action in steps:
        DunningStep.objects.create(policy=policy, offset_days=offset, action=action)
    return policy
