"""send_notifications: many triggers at once, the same records and idempotency as the single
send, one Celery message per priority, and a concurrent trigger still sending once."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import before_task_publish
from django.db import transaction

from apps.core.tenancy import use_tenant
from apps.events.models import Event
from apps.notifications.models import Notification, Status
from apps.notifications.services import NotificationRequest, send_notification, send_notifications
from apps.notifications.tasks import send_notification_batch
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.concurrency import committed_account, in_thread, wait_for_blocked


@pytest.mark.usefixtures("in_tenant_a", "no_quiet_hours")
def test_a_batch_records_what_single_sends_would_and_enqueues_one_message_per_priority(
    django_capture_on_commit_callbacks: Any,
) -> None:
    ada, ben, nomail = AccountFactory(name="Ada"), AccountFactory(name="Ben"), AccountFactory(email="")
    [earlier] = send_notification(account=ben, kind="account_reactivated", idempotency_key="b-0", channels=["email"])
    requests = [
        NotificationRequest(account=ada, kind="dunning_reminder", idempotency_key="b-1", channels=["email"]),
        NotificationRequest(account=ada, kind="dunning_reminder", idempotency_key="b-1", channels=["email"]),
        NotificationRequest(account=ben, kind="account_reactivated", idempotency_key="b-0", channels=["email"]),
        NotificationRequest(account=ben, kind="dunning_final_notice", idempotency_key="b-2", priority="high"),
        NotificationRequest(account=nomail, kind="dunning_reminder", idempotency_key="b-3", channels=["email"]),
    ]
    with (
        published_messages() as messages,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        transaction.atomic(),
    ):
        answers = send_notifications(requests)

    first, again, existing, final, failed = answers
    assert [n.idempotency_key for n in first] == ["b-1"]
    assert [n.id for n in again] == [n.id for n in first]  # one key, one set of records
    assert [n.id for n in existing] == [earlier.id]  # a key already used: its records
    assert {n.channel for n in final} == {"email", "sms"} and {n.priority for n in final} == {"high"}
    assert [(n.status, n.last_error) for n in failed] == [("failed", "the account has no email address")]
    stored = Notification.objects.get(idempotency_key="b-1")
    assert (stored.status, stored.recipient, stored.context["account_name"]) == ("queued", ada.email, "Ada")
    assert Notification.objects.filter(idempotency_key__in=["b-1", "b-2", "b-3"]).count() == 4
    [event] = Event.objects.filter(type="notification.failed")
    assert event.subject == str(failed[0].id)
    # After commit, one enqueueing callback: one message per priority (normal: b-1; high: b-2's two).
    enqueues = [c for c in callbacks if getattr(c, "__qualname__", "").startswith("schedule_deliveries.")]
    assert len(enqueues) == 1
    assert sorted(messages) == ["notifications", "notifications-high"]


@contextlib.contextmanager
def published_messages() -> Iterator[list[str]]:
    """The routing keys of the Celery messages published to the broker (real Redis) meanwhile.

    Counted as they are sent rather than as they wait in Redis: a worker started by another
    test of the session may already have consumed them.
    """
    routing_keys: list[str] = []

    def record(sender: Any = None, routing_key: str = "", **_kwargs: Any) -> None:
        routing_keys.append(routing_key)

    before_task_publish.connect(record, weak=False)
    try:
        yield routing_keys
    finally:
        before_task_publish.disconnect(record)


@pytest.mark.usefixtures("in_tenant_a", "no_quiet_hours")
def test_a_batch_message_delivers_each_once_even_when_redelivered(fake_postmark: Any) -> None:
    accounts = [AccountFactory() for _ in range(3)]
    answers = send_notifications(
        [
            NotificationRequest(account=a, kind="dunning_reminder", idempotency_key=f"d-{n}", channels=["email"])
            for n, a in enumerate(accounts)
        ]
    )
    ids = [str(n.id) for notifications in answers for n in notifications]
    send_notification_batch.run(ids)
    assert len(fake_postmark.requests) == 3
    send_notification_batch.run(ids)  # the message again (a worker died after it): nothing more
    assert len(fake_postmark.requests) == 3
    assert set(Notification.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.SENT}


def test_a_batch_racing_a_single_send_of_one_of_its_keys_sends_that_key_once(
    committed_tenant: Tenant, settings: Any
) -> None:
    settings.NOTIFICATIONS_SMS_QUIET_HOURS = ""

    account_id = committed_account(committed_tenant)
    first_sent, release_first = threading.Event(), threading.Event()

    def single() -> list[str]:
        from apps.accounts.models import Account

        use_tenant(committed_tenant)
        with transaction.atomic():
            account = Account.objects.get(pk=account_id)
            made = send_notification(
                account=account, kind="dunning_reminder", idempotency_key="rb-1", channels=["email"]
            )
            first_sent.set()
            assert release_first.wait(timeout=30)
            return [str(n.id) for n in made]

    def batch() -> list[list[str]]:
        from apps.accounts.models import Account

        use_tenant(committed_tenant)
        with transaction.atomic():
            account = Account.objects.get(pk=account_id)
            answers = send_notifications(
                [
                    NotificationRequest(
                        account=account, kind="dunning_reminder", idempotency_key=key, channels=["email"]
                    )
                    for key in ("rb-1", "rb-2")
                ]
            )
            return [[str(n.id) for n in notifications] for notifications in answers]

    first, first_outcome = in_thread(single)
    assert first_sent.wait(timeout=30)
    second, second_outcome = in_thread(batch)
    try:
        wait_for_blocked(
            'COPY "notifications_notification"%',
            deadline_seconds=15,
            failure="the batch never waited for the concurrent trigger",
        )
    finally:
        release_first.set()
        first.join(timeout=30)
        second.join(timeout=30)
    assert "error" not in first_outcome, first_outcome
    assert "error" not in second_outcome, second_outcome
    raced, other = second_outcome["value"]
    assert raced == first_outcome["value"]  # the single send's record, not a second one
    assert len(other) == 1

    def stored() -> list[str]:
        use_tenant(committed_tenant)
        return sorted(
            Notification.objects.filter(idempotency_key__startswith="rb-").values_list("idempotency_key", flat=True)
        )

    thread, counted = in_thread(stored)
    thread.join(timeout=30)
    assert counted["value"] == ["rb-1", "rb-2"]
