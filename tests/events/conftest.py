"""Webhook test fixtures: a real receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.events.receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server
