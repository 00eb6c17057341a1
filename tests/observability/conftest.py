"""Fixtures shared with other test packages."""

from tests.events.conftest import receiver  # noqa: F401 - a real webhook receiver on 127.0.0.1
