"""Two runs of the same trigger at the same time send once: the second waits on the unique
index for the first's commit, then finds its records."""

from __future__ import annotations

import threading
from typing import Any

from django.db import transaction

from apps.core.tenancy import use_tenant
from apps.notifications.models import Notification
from apps.notifications.services import send_notification
from apps.tenants.models import Tenant
from tests.concurrency import committed_account, in_thread, wait_for_blocked_insert


def test_the_same_trigger_running_twice_concurrently_sends_once(committed_tenant: Tenant, settings: Any) -> None:
    settings.NOTIFICATIONS_SMS_QUIET_HOURS = ""

    account_id = committed_account(committed_tenant)
    first_sent, release_first = threading.Event(), threading.Event()

    def trigger(hold: bool) -> list[str]:
        use_tenant(committed_tenant)
        with transaction.atomic():
            from apps.accounts.models import Account

            account = Account.objects.get(pk=account_id)
            notifications = send_notification(account=account, kind="payment_failed", idempotency_key="race-1")
            if hold:
                first_sent.set()
                assert release_first.wait(timeout=30)
            return sorted(str(n.id) for n in notifications)

    first, first_outcome = in_thread(lambda: trigger(hold=True))
    assert first_sent.wait(timeout=30)
    second, second_outcome = in_thread(lambda: trigger(hold=False))
    try:
        wait_for_blocked_insert(
            "notifications_notification", deadline_seconds=15, failure="the second trigger never waited for the first"
        )
    finally:
        release_first.set()
        first.join(timeout=30)
        second.join(timeout=30)
    assert "error" not in first_outcome, first_outcome
    assert "error" not in second_outcome, second_outcome
    assert first_outcome["value"] == second_outcome["value"]
    assert len(first_outcome["value"]) == 2  # email and SMS, once each

    def stored() -> int:
        use_tenant(committed_tenant)
        return Notification.objects.filter(idempotency_key="race-1").count()

    thread, counted = in_thread(stored)
    thread.join(timeout=30)
    assert counted["value"] == 2
