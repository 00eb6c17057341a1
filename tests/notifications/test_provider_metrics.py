"""Calls to the ESP and to Twilio are timed and counted as billing_external_requests."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.notifications.test_delivery import deliver, one

pytestmark = pytest.mark.usefixtures("in_tenant_a", "no_quiet_hours")


def calls(service: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("billing_external_requests_total", {"service": service, "outcome": outcome}) or 0.0


def test_esp_calls_are_counted_by_outcome(fake_postmark: Any) -> None:
    before = calls("esp", "server_error"), calls("esp", "success")
    fake_postmark.outcomes.extend(["server_error"])
    notification = deliver(one("email"))
    assert calls("esp", "server_error") == before[0] + 1
    notification.send_after = None
    notification.save(update_fields=["send_after"])
    assert deliver(notification).status == "sent"
    assert calls("esp", "success") == before[1] + 1


def test_twilio_calls_are_counted_by_outcome(fake_twilio: Any) -> None:
    before = calls("twilio", "server_error"), calls("twilio", "success")
    fake_twilio.outcomes.extend(["server_error"])
    notification = deliver(one("sms"))
    assert calls("twilio", "server_error") == before[0] + 1
    notification.send_after = None
    notification.save(update_fields=["send_after"])
    assert deliver(notification).status == "sent"
    assert calls("twilio", "success") == before[1] + 1
