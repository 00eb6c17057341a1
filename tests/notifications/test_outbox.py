"""Notices for events are recorded from the outbox after commit: never in the event's own
transaction, never lost (a crashed drain, a lost kick), never twice (two drains at once)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from apps.accounts.services import account_reactivate, account_suspend
from apps.core.redis import redis_client
from apps.core.tenancy import use_public_schema, use_tenant
from apps.events.models import Event
from apps.notifications import outbox, tasks
from apps.notifications.models import NoticeCursor, Notification
from apps.payments.services import payment_record
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.concurrency import in_own_connection, in_thread, wait_for_blocked
from tests.events.receiver import wait_until
from tests.invoices.factories import open_invoice


@pytest.fixture
def quiet(settings: Any) -> None:
    settings.NOTIFICATIONS_SMS_QUIET_HOURS = ""


def receipts() -> list[Notification]:
    return list(Notification.objects.filter(kind="payment_succeeded").order_by("channel"))


def cursor() -> int:
    return NoticeCursor.objects.get(pk=1).last_sequence


@pytest.mark.usefixtures("in_tenant_a", "quiet")
def test_the_payment_records_no_notice_and_the_drain_records_its_receipt_once() -> None:
    account = AccountFactory()
    open_invoice(account, "100.00")
    payment_record(account=account, amount="150.00", currency="NGN", method="bank_transfer", reference="TRF-9")
    assert receipts() == []  # nothing in the payment's transaction
    event = Event.objects.get(type="payment.succeeded")
    assert event.data["account_balance"] == "-50.00"  # paid 100 due, 50 left as credit

    read, more = outbox.drain_all()
    assert (read, more) == (1, False)  # invoice.paid is not a notice: only the payment was read
    [email] = receipts()
    assert email.idempotency_key == f"event:{event.id}"
    assert email.context["balance"] == "-₦50.00"  # the balance the payment left, from the event
    assert cursor() == event.sequence

    # The account's balance moves on; a second drain reads nothing and the receipt stays as it was.
    open_invoice(account, "500.00")
    assert outbox.drain_all() == (0, False)
    assert [n.context["balance"] for n in receipts()] == ["-₦50.00"]


@pytest.mark.usefixtures("in_tenant_a", "quiet")
def test_a_drain_that_dies_before_commit_loses_nothing() -> None:
    account = AccountFactory()
    account_suspend(account=account, reason="unpaid")
    before = cursor()

    class Killed(Exception):
        pass

    with pytest.raises(Killed), transaction.atomic():
        assert outbox.drain_notices() == (1, False)
        assert Notification.objects.filter(kind="account_suspended").exists()
        raise Killed  # the worker died before its commit
    assert cursor() == before
    assert not Notification.objects.exists()
    assert outbox.drain_notices() == (1, False)
    assert sorted(Notification.objects.values_list("kind", "channel")) == [
        ("account_suspended", "email"),
        ("account_suspended", "sms"),
    ]


@pytest.mark.usefixtures("in_tenant_a", "quiet")
def test_a_deadlock_while_recording_skips_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError

    from apps.notifications import handlers

    account = AccountFactory()
    account_suspend(account=account, reason="unpaid")
    before = cursor()
    original = handlers.SUBSCRIPTIONS["account.suspended"]

    def deadlocked(event: Any, loaded: Any) -> Any:
        raise OperationalError("deadlock detected")

    monkeypatch.setitem(handlers.SUBSCRIPTIONS, "account.suspended", deadlocked)
    with pytest.raises(OperationalError):
        outbox.drain_notices()
    assert cursor() == before  # not read past: the next run records it
    monkeypatch.setitem(handlers.SUBSCRIPTIONS, "account.suspended", original)
    assert outbox.drain_notices() == (1, False)
    assert Notification.objects.filter(kind="account_suspended").exists()


@pytest.mark.usefixtures("in_tenant_a", "quiet")
def test_the_sweep_records_what_a_lost_kick_left() -> None:
    account = AccountFactory()
    account_suspend(account=account, reason="unpaid")
    account_reactivate(account=account)  # nobody kicked a drain in this rolled-back test
    assert tasks.dispatch_due.run() >= 2
    assert {n.kind for n in Notification.objects.all()} == {"account_suspended", "account_reactivated"}


@pytest.mark.usefixtures("in_tenant_a")
def test_a_burst_of_commits_kicks_one_drain() -> None:
    from celery.signals import after_task_publish

    key = outbox.marker_key("alpha")
    redis_client().delete(key)
    sent: list[Any] = []

    def published(sender: str = "", body: Any = None, **_kwargs: Any) -> None:
        if sender == tasks.record_notices.name:
            sent.append(body[1])  # (args, kwargs, embed): the kwargs, as Celery put them on Redis

    after_task_publish.connect(published, weak=False)
    try:
        assert outbox.kick_drain() is True
        assert outbox.kick_drain() is False  # the first drain holds the marker
        assert outbox.kick_drain(force=True) is True  # the sweep kicks regardless
    finally:
        after_task_publish.disconnect(published)
        redis_client().delete(key)
    assert sent == [{"marker": key}, {"marker": key}]


@pytest.mark.usefixtures("in_tenant_a")
def test_a_transaction_registers_one_kick_however_many_notices_it_publishes() -> None:
    from django.db import connection

    account = AccountFactory()
    with transaction.atomic():
        account_suspend(account=account, reason="x")
        account_reactivate(account=account)
        kicks = [entry for entry in connection.run_on_commit if isinstance(entry[1], outbox._KickOnCommit)]
        assert len(kicks) == 1


@pytest.mark.usefixtures("notice_drain_held")
def test_two_drains_at_once_read_each_event_once(committed_tenant: Tenant, settings: Any) -> None:
    """Real parallel connections: while one drain holds the cursor the other waits on it, then
    reads past what the first recorded; every event is read once and noticed once."""
    settings.NOTIFICATIONS_SMS_QUIET_HOURS = ""

    def commit_suspensions() -> int:
        use_tenant(committed_tenant)
        for _ in range(12):
            account = AccountFactory()
            account_suspend(account=account, reason="x")
        return Event.objects.filter(type="account.suspended").count()

    assert in_own_connection(commit_suspensions) == 12
    holding, release = threading.Event(), threading.Event()

    def first() -> int:
        use_tenant(committed_tenant)
        with transaction.atomic():
            read, _more = outbox.drain_notices(batch=5)
            holding.set()
            assert release.wait(timeout=30)
        rest, _more = outbox.drain_all(batch=5)
        return read + rest

    def second() -> int:
        use_tenant(committed_tenant)
        read, _more = outbox.drain_all(batch=5)
        return read

    one, one_outcome = in_thread(first)
    assert holding.wait(timeout=30)
    two, two_outcome = in_thread(second)
    try:
        wait_for_blocked("%notifications_noticecursor%", failure="the second drain never waited")
    finally:
        release.set()
        one.join(timeout=60)
        two.join(timeout=60)
    assert "error" not in one_outcome and "error" not in two_outcome, (one_outcome, two_outcome)
    assert one_outcome["value"] + two_outcome["value"] == 12

    def stored() -> tuple[int, int]:
        use_tenant(committed_tenant)
        keys = list(Notification.objects.values_list("idempotency_key", "channel"))
        assert len(keys) == len(set(keys))
        return len({key for key, _ in keys}), cursor()

    noticed, at = in_own_connection(stored)
    assert noticed == 12
    assert at == in_own_connection(lambda: _last_sequence(committed_tenant))


@pytest.fixture
def live(committed_tenant: Tenant, django_db_blocker: Any) -> Iterator[Tenant]:
    with django_db_blocker.unblock():
        use_tenant(committed_tenant)
        yield committed_tenant
        use_public_schema()


@pytest.mark.slow
def test_a_committed_payment_gets_its_receipt_from_a_real_worker(
    live: Tenant, celery_worker: Any, settings: Any
) -> None:
    settings.NOTIFICATIONS_SMS_QUIET_HOURS = ""
    account = AccountFactory()
    open_invoice(account, "80.00")
    payment = payment_record(account=account, amount="80.00", currency="NGN", method="bank_transfer")
    # The commit kicked the tenant's drain on the worker: the receipt appears without any sweep.
    receipt = wait_until(lambda: Notification.objects.filter(kind="payment_succeeded").first(), timeout=30)
    event = Event.objects.get(type="payment.succeeded", subject=str(payment.pk))
    assert receipt.idempotency_key == f"event:{event.id}"
    assert Decimal(event.data["account_balance"]) == Decimal(0)
    with schema_context(live.schema_name):
        assert cursor() >= (event.sequence or 0)


def _last_sequence(tenant: Tenant) -> int:
    use_tenant(tenant)
    last = Event.objects.filter(type="account.suspended").order_by("-sequence").values_list("sequence", flat=True)[0]
    assert last is not None
    return last
