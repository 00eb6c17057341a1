"""Fixtures for the notifications tests: fakes of Postmark, Twilio and the push relay on
127.0.0.1 with the real clients (anymail, twilio SDK, httpx) pointed at them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.utils.translation import trans_real

from tests.notifications.fakes import FakePostmark, FakePushRelay, FakeTwilio, serve

TWILIO_AUTH_TOKEN = "test-twilio-auth-token-0123456789"
PUSH_SECRET = "whsec_dGVzdC1wdXNoLXJlbGF5LXNlY3JldA=="


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """`make test` compiles locale/ first; a bare pytest run does it here (then forgets any
    catalogue loaded before the .mo files existed)."""
    call_command("compile_translations", verbosity=0)
    translations: Any = trans_real
    translations._translations = {}
    translations._default = None


@pytest.fixture
def fake_postmark(settings: Any) -> Iterator[FakePostmark]:
    with serve(FakePostmark()) as fake:
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-server-token", "POSTMARK_API_URL": fake.url + "/"}
        yield fake  # type: ignore[misc]


@pytest.fixture
def fake_twilio(settings: Any) -> Iterator[FakeTwilio]:
    with serve(FakeTwilio()) as fake:
        settings.TWILIO_ACCOUNT_SID = "AC00000000000000000000000000000001"
        settings.TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN
        settings.TWILIO_FROM_NUMBER = "+15005550006"
        settings.TWILIO_BASE_URL = fake.url
        settings.NOTIFICATIONS_CALLBACK_BASE_URL = "http://{host}"
        yield fake  # type: ignore[misc]


@pytest.fixture
def fake_push(settings: Any) -> Iterator[FakePushRelay]:
    with serve(FakePushRelay()) as fake:
        settings.PUSH_RELAY_URL = fake.url + "/push"
        settings.PUSH_RELAY_SECRET = PUSH_SECRET
        yield fake  # type: ignore[misc]


@pytest.fixture
def no_quiet_hours(settings: Any) -> None:
    settings.NOTIFICATIONS_SMS_QUIET_HOURS = ""
