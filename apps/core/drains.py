"""Per-tenant drains kicked by commits: the webhook drain (apps.events) and the notice drain
(apps.notifications) share this protocol.

- A transaction registers one callback per schema with `on_commit_once` (looked up in the
  connection's live on_commit list: one registered in a savepoint that was rolled back is gone
  from it, so a fresh one is registered).
- After commit the callback `kick`s the drain: a Redis SET NX marker, so a burst of commits
  enqueues one message; the message carries the marker.
- The drain task runs `run_marked`: it refreshes the marker, drains, and when nothing is left
  gives the marker up and looks once more. A commit that found the marker taken committed
  before that delete, so the last look sees its work. The marker only saves messages: each
  app's sweeper drains regardless of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from django.db import transaction

from apps.core.redis import redis_client


class _PerSchema(Protocol):
    schema: str

    def __call__(self) -> None: ...


C = TypeVar("C", bound=_PerSchema)


def on_commit_once(kind: type[C], schema: str, make: Callable[[], C]) -> C:
    """This transaction's callback of `kind` for `schema`, registered with on_commit on first use."""
    for _savepoints, callback, _robust in reversed(transaction.get_connection().run_on_commit):
        if isinstance(callback, kind) and callback.schema == schema:
            return callback
    callback = make()
    transaction.on_commit(callback)
    return callback


def kick(key: str, enqueue: Callable[[], None], *, seconds: int, force: bool = False) -> bool:
    """Enqueue a drain unless one holds `key` (or with `force`: a sweeper, which cannot tell a live
    marker from a killed drain's); True if a message was enqueued."""
    client = redis_client()
    taken = bool(client.set(key, "1", nx=True, ex=seconds))
    if not (taken or force):
        return False
    try:
        enqueue()
    except Exception:
        if taken:  # nothing would clear it: let the next commit try again
            client.delete(key)
        raise
    return True


def run_marked(
    key: str,
    *,
    seconds: int,
    drain: Callable[[], tuple[int, bool]],
    last_look: Callable[[], int],
    requeue: Callable[[], None],
) -> int:
    """The drain task's loop behind its marker; returns the items it handled.

    `drain` works until done or its turn is over (then `more`: the task `requeue`s itself and the
    marker stays with that message); `last_look` is one more pass after the marker is given up.
    """
    client = redis_client()
    total = 0
    while True:
        client.set(key, "1", ex=seconds)
        done, more = drain()
        total += done
        if more:
            requeue()
            return total
        client.delete(key)
        done = last_look()
        total += done
        if not done or not client.set(key, "1", nx=True, ex=seconds):
            return total  # nothing more, or a commit kicked a new drain that carries on
