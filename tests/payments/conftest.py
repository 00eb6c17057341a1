"""Fixtures for the payments tests: a local fake of the Stripe API, the SDK pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.payments.fake_stripe import FakeStripe

WEBHOOK_SECRET = "whsec_test_5f1c0a9e7d2b4c8a"


@pytest.fixture
def fake_stripe(settings: Any) -> Iterator[FakeStripe]:
    fake = FakeStripe(api_key="sk_test_fake").start()
    settings.STRIPE_API_KEY = fake.api_key
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    try:
        yield fake
    finally:
        fake.stop()
