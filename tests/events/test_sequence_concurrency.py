"""Event numbers are given at COMMIT, on real parallel connections (threads, each its own).

publish() takes no lock; the deferred constraint trigger `events_event_number_at_commit`
numbers a transaction's events when it commits (apps.events.models.EventSequence). So a
transaction holding its events open does not hold up another publisher, numbers stay
gapless, follow commit order, and a reader paging by `after_sequence` never misses one.
Everything here is committed, in a throwaway tenant cloned from the template (so the clone's
trigger and function are the ones at work).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django_tenants.utils import schema_context

from apps.core.tenancy import use_public_schema, use_tenant
from apps.events.models import Event
from apps.events.services import publish, sequence_of
from apps.tenants.models import Tenant

WAIT = 30.0  # seconds: a bound on every wait, never a synchronisation by itself


class Worker(threading.Thread):
    """Runs `target` in its own thread (so on its own database connection), keeping its result or error."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work = target
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as exc:  # reported by finish()
            self.error = exc
        finally:
            connection.close()

    def finish(self) -> Any:
        self.join(WAIT)
        assert not self.is_alive(), "a worker thread did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def account_created(n: int = 1) -> list[uuid.UUID]:
    """Publish `n` events in the current transaction; their ids."""
    return [publish("account.created", f"acc-{i}", {"account": f"acc-{i}"}).id for i in range(n)]


def known(number: int | None) -> int:
    assert number is not None, "a committed event has no number"
    return number


def numbers(schema: str, ids: list[uuid.UUID]) -> list[int]:
    with schema_context(schema):
        found = dict(Event.objects.filter(id__in=ids).values_list("id", "sequence"))
    return [known(found.get(i)) for i in ids]


def test_a_transaction_holding_its_events_open_does_not_hold_up_another_publisher(
    committed_tenant: Tenant,
) -> None:
    schema = committed_tenant.schema_name
    first_published, rolled_back, second_committed = threading.Event(), threading.Event(), threading.Event()

    def first() -> list[uuid.UUID]:
        with schema_context(schema), transaction.atomic():
            ids = account_created(2)
            first_published.set()
            assert second_committed.wait(WAIT), "the second publisher did not commit while the first was open"
        return ids

    def rolled_back_one() -> None:
        assert first_published.wait(WAIT)
        try:
            with schema_context(schema), transaction.atomic():
                account_created(1)
                raise LookupError("the state change failed")
        except LookupError:
            rolled_back.set()

    def second() -> list[uuid.UUID]:
        assert rolled_back.wait(WAIT)
        with schema_context(schema), transaction.atomic():
            with connection.cursor() as cursor:
                # Under the old lock held until commit this would wait for `first` (and fail here).
                cursor.execute("SET LOCAL lock_timeout = '10s'")
            ids = account_created(1)
        second_committed.set()
        return ids

    workers = [Worker(first), Worker(rolled_back_one), Worker(second)]
    for worker in workers:
        worker.start()
    first_ids, _, second_ids = (worker.finish() for worker in workers)

    [second_number] = numbers(schema, second_ids)
    first_numbers = numbers(schema, first_ids)
    # Commit order: `second` committed first; `first`'s two events follow without a gap, and
    # the rolled-back transaction left none.
    assert first_numbers == [second_number + 1, second_number + 2]
    with schema_context(schema):
        assert list(Event.objects.order_by("sequence").values_list("sequence", flat=True)) == [
            second_number,
            second_number + 1,
            second_number + 2,
        ]


def test_a_reader_paging_by_after_sequence_misses_nothing_and_sees_commit_order(committed_tenant: Tenant) -> None:
    """Writers publish, then commit in an order unlike their publishing order: first one by one
    (so commit order is known), then all at once; a reader polls `sequence > last` meanwhile."""
    schema = committed_tenant.schema_name
    writers_count, per_transaction = 8, 2
    published = [threading.Event() for _ in range(writers_count)]
    go = [threading.Event() for _ in range(writers_count)]
    committed = [threading.Event() for _ in range(writers_count)]
    reading = threading.Event()
    done_writing = threading.Event()

    def writer(index: int) -> Callable[[], list[uuid.UUID]]:
        def write() -> list[uuid.UUID]:
            if index > 0:  # publish in index order, so each commit-time number differs from it
                assert published[index - 1].wait(WAIT)
            with schema_context(schema), transaction.atomic():
                ids = account_created(per_transaction)
                published[index].set()
                assert go[index].wait(WAIT), f"writer {index} was never told to commit"
            committed[index].set()
            return ids

        return write

    def reader() -> list[tuple[int, uuid.UUID]]:
        seen: list[tuple[int, uuid.UUID]] = []
        last = 0
        deadline = time.monotonic() + WAIT
        with schema_context(schema):
            reading.set()
            while len(seen) < writers_count * per_transaction and time.monotonic() < deadline:
                # What GET /api/v1/events/?after_sequence=last returns (EventFilter), oldest first.
                rows = Event.objects.filter(sequence__gt=last).order_by("sequence").values_list("sequence", "id")
                page = [(known(number), event_id) for number, event_id in rows]
                assert not Event.objects.filter(sequence__isnull=True).exists(), "a committed event has no number"
                seen.extend(page)
                if page:
                    last = page[-1][0]
                elif done_writing.is_set():
                    break
                else:
                    time.sleep(0.002)  # poll again
        return seen

    read = Worker(reader)
    read.start()
    assert reading.wait(WAIT)
    writers = [Worker(writer(index)) for index in range(writers_count)]
    for worker in writers:
        worker.start()
    assert published[-1].wait(WAIT)

    one_by_one = [5, 2, 7, 0]
    for index in one_by_one:
        go[index].set()
        assert committed[index].wait(WAIT)
    for index in range(writers_count):  # the rest commit at the same time
        go[index].set()
    ids_by_writer = [worker.finish() for worker in writers]
    done_writing.set()
    seen = read.finish()

    everything = {event_id for ids in ids_by_writer for event_id in ids}
    with schema_context(schema):
        committed_numbers = [known(n) for n in Event.objects.order_by("sequence").values_list("sequence", flat=True)]
    first = committed_numbers[0]
    assert committed_numbers == list(range(first, first + writers_count * per_transaction))  # gapless
    # The reader saw every event, once, in number order.
    assert [number for number, _id in seen] == committed_numbers
    assert {event_id for _number, event_id in seen} == everything
    # Each transaction's events are consecutive (numbered under one lock at its commit) ...
    blocks = [numbers(schema, ids) for ids in ids_by_writer]
    for block in blocks:
        assert block == list(range(block[0], block[0] + per_transaction)), block
    # ... and the ones committed one by one were numbered in that commit order, before the rest.
    starts = [blocks[index][0] for index in one_by_one]
    assert starts == [first + per_transaction * position for position in range(len(one_by_one))]


def test_an_event_is_numbered_in_its_tenant_even_if_the_transaction_commits_elsewhere(
    committed_tenant: Tenant,
) -> None:
    """The trigger names its tables by the event table's schema, not by the search_path at commit."""
    use_tenant(committed_tenant)
    with transaction.atomic():
        [event_id] = account_created(1)
        use_public_schema()
        assert Tenant.objects.filter(pk=committed_tenant.pk).exists()  # the search_path is public now
    numbers(committed_tenant.schema_name, [event_id])  # numbered
    with schema_context(committed_tenant.schema_name):
        event = Event.objects.get(pk=event_id)
        assert sequence_of(event) == event.sequence
