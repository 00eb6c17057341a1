"""In-process, in-transaction handlers for domain events.

A higher app (dunning) reacts to a lower app's event (payment.succeeded) inside the same
transaction without the lower app importing it: the higher app subscribes here, in its
AppConfig.ready(). Handlers run synchronously inside `publish()`; an exception rolls the
whole state change back. Handlers must not do slow I/O: schedule that with on_commit.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apps.events.models import Event

Handler = Callable[["Event"], None]

_handlers: list[tuple[str, Handler]] = []


def subscribe(pattern: str) -> Callable[[Handler], Handler]:
    """Decorator: run the handler for every event whose type matches `pattern` (`payment.*`)."""

    def register(handler: Handler) -> Handler:
        if (pattern, handler) not in _handlers:
            _handlers.append((pattern, handler))
        return handler

    return register


def handlers_for(event_type: str) -> list[Handler]:
    return [handler for pattern, handler in _handlers if fnmatch.fnmatchcase(event_type, pattern)]


def unsubscribe(pattern: str, handler: Handler) -> None:
    """Remove a subscription (tests use it to leave the registry as they found it)."""
    if (pattern, handler) in _handlers:
        _handlers.remove((pattern, handler))
