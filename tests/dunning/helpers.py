"""Dunning test helpers: runs done in-process through the same services the tasks call."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

from apps.accounts.models import Account
from apps.dunning.engine import MISSED, ChunkResult
from apps.dunning.models import DunningAction, DunningCase, DunningPolicy, DunningStep
from apps.dunning.runs import chunk_process, run_start
from apps.events.models import Event
from apps.invoices.models import Invoice
from apps.notifications.models import Notification
from apps.notifications.outbox import drain_all
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


REMINDERS = ("email_reminder", "sms_reminder", "push_reminder", "webhook_notice")


def assert_one_notification_per_notice(actions: Iterable[DunningAction]) -> None:
    """Each executed reminder made exactly one Notification, keyed dunning:{case}:{step} and
    recorded on its action; the accounts concerned have no other dunning notification."""
    actions = list(actions)
    executed = [a for a in actions if a.action in REMINDERS and a.detail != MISSED]
    expected = {f"dunning:{a.case_id}:{a.step_id}": a for a in executed}
    cases = DunningCase.objects.filter(pk__in={a.case_id for a in actions})
    account_ids = set(cases.values_list("account_id", flat=True))
    stored = list(
        Notification.objects.filter(account_id__in=account_ids, idempotency_key__startswith="dunning:").values_list(
            "idempotency_key", "pk"
        )
    )
    assert Counter(key for key, _ in stored) == Counter(dict.fromkeys(expected, 1))
    for key, pk in stored:
        assert expected[key].notification_ids == [str(pk)], key


def notice_keys(account: Account, kind: str) -> list[str]:
    """The idempotency keys of the account's notices of this kind (at most one row per channel each),
    once the notice drain has read the committed events (here: this test's transaction)."""
    drain_all()
    rows = list(Notification.objects.filter(account=account, kind=kind).values_list("idempotency_key", "channel"))
    assert len(rows) == len(set(rows)), rows
    return sorted({key for key, _ in rows})
