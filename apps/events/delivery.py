"""Sending deliveries: claim (lease), sign, POST with httpx, record the attempt, schedule a retry.

A retry's time lives in `Delivery.next_attempt_at`; the sweeper (tasks.sweep) enqueues what
is due, so a lost broker message or a killed worker only delays a delivery. Delivery is
at least once: consumers de-duplicate on `webhook-id`, which is the same on every attempt.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any, cast

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.core import metrics
from apps.core.tenancy import current_schema
from apps.events.models import Delivery, DeliveryAttempt, DeliveryStatus, EndpointKind, Event, WebhookEndpoint
from apps.events.services import event_envelope, publish
from apps.events.signing import signed_headers
from apps.events.ssrf import UnsafeTarget, check_url

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429})
SNIPPET_CHARS = 500


def send_concurrency() -> int:
    """POSTs one worker process keeps in flight at once (WEBHOOK_SEND_CONCURRENCY)."""
    return max(1, int(settings.WEBHOOK_SEND_CONCURRENCY))


@cache
def http_client() -> httpx.Client:
    """One pooled client per process (worker child): keep-alive connections across deliveries.

    Shared by the sending threads (httpx.Client is thread-safe); the pool keeps one
    connection per thread alive.
    """
    concurrency = send_concurrency()
    return httpx.Client(
        limits=httpx.Limits(max_connections=max(concurrency, 10), max_keepalive_connections=max(concurrency, 10)),
        timeout=httpx.Timeout(
            connect=settings.WEBHOOK_CONNECT_TIMEOUT,
            read=settings.WEBHOOK_READ_TIMEOUT,
            write=settings.WEBHOOK_READ_TIMEOUT,
            pool=settings.WEBHOOK_CONNECT_TIMEOUT,
        ),
        follow_redirects=False,
        headers={"user-agent": "DotMac-Billing-Webhooks/1"},
    )


@cache
def send_pool() -> ThreadPoolExecutor:
    """The process' sending threads, created on first use (in the worker child, after the fork)."""
    return ThreadPoolExecutor(max_workers=send_concurrency(), thread_name_prefix="webhook-send")


@dataclass
class Outcome:
    """What one POST achieved."""

    status_code: int | None
    latency_ms: int
    snippet: str = ""
    error: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        code = self.status_code
        return code is None or code >= 500 or code in RETRYABLE_STATUS


def endpoint_target(endpoint: WebhookEndpoint) -> tuple[str, list[str]]:
    """URL and the secrets to sign with (the platform endpoint's come from settings)."""
    if endpoint.kind == EndpointKind.PLATFORM:
        return settings.PLATFORM_WEBHOOK_URL, [settings.PLATFORM_WEBHOOK_SECRET]
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > timezone.now():
        secrets.append(endpoint.previous_secret)
    return endpoint.url, secrets


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def post_signed(url: str, secrets: Sequence[str], message_id: str, body: bytes, *, guard: bool = True) -> Outcome:
    """POST one signed body; never raises for network trouble (the outcome says what happened).

    `guard` re-checks the URL's addresses (SSRF) right before sending; the operator-configured
    platform endpoint is trusted.
    """
    outcome = _post_signed(url, secrets, message_id, body, guard=guard)
    if not outcome.error.startswith("refused:"):  # a refused target was never called
        metrics.count_http_call("webhook", status_code=outcome.status_code, seconds=outcome.latency_ms / 1000)
    return outcome


def _post_signed(url: str, secrets: Sequence[str], message_id: str, body: bytes, *, guard: bool) -> Outcome:
    started = time.monotonic()
    try:
        if guard:
            check_url(url)
        headers = signed_headers(list(secrets), message_id, int(time.time()), body)
        with http_client().stream("POST", url, content=body, headers=headers) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= settings.WEBHOOK_RESPONSE_MAX_BYTES:
                    break
            text = b"".join(chunks)[: settings.WEBHOOK_RESPONSE_MAX_BYTES].decode("utf-8", "replace")
            return Outcome(
                status_code=response.status_code,
                latency_ms=int((time.monotonic() - started) * 1000),
                snippet=text[:SNIPPET_CHARS],
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
    except UnsafeTarget as exc:
        return Outcome(None, int((time.monotonic() - started) * 1000), error=f"refused: {exc}"[:500])
    except httpx.HTTPError as exc:
        return Outcome(None, int((time.monotonic() - started) * 1000), error=f"{type(exc).__name__}: {exc}"[:500])


def next_delay(attempt_count: int, retry_after: float | None) -> float | None:
    """Seconds until the next try after `attempt_count` attempts, or None when the schedule is spent."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempt_count > len(schedule):
        return None
    base = float(schedule[attempt_count - 1])
    # Jitter only ever lengthens a wait: a spent schedule then spans at least its nominal total, so an
    # endpoint failing throughout it has failed for the WEBHOOK_DISABLE_AFTER_DAYS it sits inside.
    delay = base * random.uniform(1.0, 1.2)  # noqa: S311 - jitter, not a secret
    if retry_after is not None:
        delay = max(delay, min(retry_after, float(settings.WEBHOOK_MAX_RETRY_AFTER)))
    return delay


def _claim(query: Q, lease_seconds: float) -> int:
    now = timezone.now()
    return Delivery.objects.filter(
        query,
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=now,
        endpoint__enabled=True,
    ).update(lease_until=now + timedelta(seconds=lease_seconds))


def lease_seconds() -> float:
    return float(settings.WEBHOOK_CONNECT_TIMEOUT + 2 * settings.WEBHOOK_READ_TIMEOUT + 5)


def _lease_until(now: datetime, count: int) -> datetime:
    """Long enough to send `count` deliveries, send_concurrency() at a time, each taking its full timeouts."""
    rounds = -(-max(count, 1) // send_concurrency())
    return now + timedelta(seconds=lease_seconds() * rounds)


@dataclass(frozen=True, slots=True)
class _EventRow:
    """The committed event's columns the envelope needs (event_envelope reads these attributes)."""

    id: uuid.UUID
    type: str
    subject: str
    sequence: int | None
    created_at: datetime
    api_version: str
    data: Any


@dataclass(frozen=True, slots=True)
class Claimed:
    """A leased delivery, read in one query with its event (model instances cost ~0.2 ms each)."""

    id: uuid.UUID
    endpoint: WebhookEndpoint
    attempt_count: int
    batch_id: uuid.UUID | None
    event: _EventRow

    @property
    def endpoint_id(self) -> uuid.UUID:
        return self.endpoint.id

    @property
    def message_id(self) -> str:
        return f"batch_{self.batch_id}" if self.batch_id else f"msg_{self.id.hex}"


def _load_claimed(claimed: Sequence[uuid.UUID]) -> list[Claimed]:
    """The claimed rows with their events (one query, read after commit: the committed sequence)
    and their endpoints (one more)."""
    if not claimed:
        return []
    delivery, event = Delivery._meta.db_table, Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.id, d.endpoint_id, d.attempt_count, d.batch_id, e.id, e.type, e.subject, e.sequence,"  # noqa: S608
            f" e.created_at, e.api_version, e.data::text FROM {delivery} AS d JOIN {event} AS e ON e.id = d.event_id"
            " WHERE d.id = ANY(%s::uuid[]) ORDER BY e.sequence, e.created_at",
            [[str(i) for i in claimed]],
        )
        rows = cursor.fetchall()
    endpoints = WebhookEndpoint.objects.in_bulk({row[1] for row in rows})
    return [
        Claimed(
            row[0],
            endpoints[row[1]],
            row[2],
            row[3],
            _EventRow(row[4], row[5], row[6], row[7], row[8], row[9], json.loads(row[10])),
        )
        for row in rows
    ]


def _claim_many(ids: Sequence[str], now: datetime) -> list[Claimed]:
    """Lease every given delivery that is due, pending, unleased and whose endpoint is enabled.

    One UPDATE ... RETURNING, then one SELECT of the claimed rows with their event and endpoint.
    """
    delivery, endpoint = Delivery._meta.db_table, WebhookEndpoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {delivery} AS d SET lease_until = %s FROM {endpoint} AS e"  # noqa: S608 - table names
            " WHERE d.endpoint_id = e.id AND e.enabled AND d.id = ANY(%s::uuid[])"
            " AND d.status = %s AND d.next_attempt_at <= %s AND (d.lease_until IS NULL OR d.lease_until < %s)"
            " RETURNING d.id",
            [_lease_until(now, len(ids)), [str(i) for i in ids], DeliveryStatus.PENDING.value, now, now],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    return _load_claimed(claimed)


def claim_due(limit: int) -> list[Claimed]:
    """Lease up to `limit` due deliveries of unbatched, enabled endpoints in one statement.

    UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n) RETURNING: concurrent
    drains of the same tenant take disjoint rows without waiting on each other, and the lease
    keeps them apart afterwards (until it runs out: a killed worker's rows become due again).
    """
    now = timezone.now()
    delivery, endpoint = Delivery._meta.db_table, WebhookEndpoint._meta.db_table
    # The lease covers the rows actually claimed (see _lease_until), counted in the statement.
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH picked AS (SELECT d.id FROM {delivery} AS d JOIN {endpoint} AS e ON e.id = d.endpoint_id"  # noqa: S608
            " WHERE d.status = %s AND d.next_attempt_at <= %s AND (d.lease_until IS NULL OR d.lease_until < %s)"
            " AND e.enabled AND e.batch_size <= 1"
            " ORDER BY d.next_attempt_at LIMIT %s FOR UPDATE OF d SKIP LOCKED)"
            f" UPDATE {delivery} SET lease_until = %s::timestamptz"
            " + make_interval(secs => %s * ceil((SELECT count(*) FROM picked)::numeric / %s))"
            " WHERE id IN (SELECT id FROM picked) RETURNING id",
            [DeliveryStatus.PENDING.value, now, now, limit, now, lease_seconds(), send_concurrency()],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    return _load_claimed(claimed)


def deliver(delivery_id: str | uuid.UUID) -> str:
    """Try one (unbatched) delivery now if it is due and nobody else holds it; returns what happened."""
    return deliver_many([str(delivery_id)]).get(str(delivery_id), "skipped")


def deliver_many(delivery_ids: Sequence[str]) -> dict[str, str]:
    """Send the given (unbatched) deliveries that are due and not held by another worker.

    Returns {delivery id: "delivered" | "failed"} for the ones claimed; the others were not due
    or were held by another worker ("skipped").
    """
    return send_claimed(_claim_many(delivery_ids, timezone.now()))


def drain(*, batch: int, budget_seconds: float, on_full_batch: Callable[[], None] | None = None) -> tuple[int, bool]:
    """Send this tenant's due unbatched deliveries, `batch` claimed at a time, until none is due.

    Returns (deliveries sent, more): `more` when it stopped on its time budget with a full
    last batch (the caller re-enqueues itself, so one tenant's backlog never holds a worker
    for long). `on_full_batch` runs when a claim came back full (a backlog).
    """
    started = time.monotonic()
    sent = 0
    while True:
        deliveries = claim_due(batch)
        if not deliveries:
            return sent, False
        if len(deliveries) == batch and on_full_batch is not None:
            on_full_batch()
        send_claimed(deliveries)
        sent += len(deliveries)
        if len(deliveries) < batch:
            return sent, False
        if time.monotonic() - started >= budget_seconds:
            return sent, True


@dataclass
class _Job:
    delivery: Claimed
    url: str
    secrets: list[str]
    body: bytes


def send_claimed(deliveries: Sequence[Claimed]) -> dict[str, str]:
    """POST claimed deliveries, each signed on its own, send_concurrency() at a time; record them in bulk.

    The envelopes (with the committed event's sequence, read from the database) are built and
    the SSRF check (DNS) runs once per URL here; the POSTs run on the process' sending threads
    over its one keep-alive client. Then one statement records every success, one every failure.
    """
    if not deliveries:
        return {}
    schema = current_schema()
    refusals: dict[str, Outcome | None] = {}
    targets: dict[uuid.UUID, tuple[str, list[str]]] = {}
    outcomes: dict[uuid.UUID, Outcome] = {}
    jobs: list[_Job] = []
    for item in deliveries:
        endpoint = item.endpoint
        if endpoint.id not in targets:
            targets[endpoint.id] = endpoint_target(endpoint)
        url, secrets = targets[endpoint.id]
        if endpoint.kind != EndpointKind.PLATFORM:  # the operator-configured platform URL is trusted
            if url not in refusals:
                refusals[url] = _refusal(url)
            refused = refusals[url]
            if refused is not None:
                outcomes[item.id] = refused
                continue
        body = json.dumps(event_envelope(cast(Event, item.event), schema), separators=(",", ":")).encode()
        jobs.append(_Job(item, url, secrets, body))

    def send(job: _Job) -> Outcome:
        return post_signed(job.url, job.secrets, job.delivery.message_id, job.body, guard=False)

    if len(jobs) > 1 and send_concurrency() > 1:
        sent = list(send_pool().map(send, jobs))
    else:
        sent = [send(job) for job in jobs]
    outcomes.update((job.delivery.id, outcome) for job, outcome in zip(jobs, sent, strict=True))

    succeeded = [(d, outcomes[d.id]) for d in deliveries if outcomes[d.id].ok]
    failed = [(d, outcomes[d.id]) for d in deliveries if not outcomes[d.id].ok]
    if failed:
        record_failures(failed)
    if succeeded:
        record_successes(succeeded, failing={d.endpoint_id for d, _o in failed})
    return {str(d.id): "delivered" if outcomes[d.id].ok else "failed" for d in deliveries}


def _refusal(url: str) -> Outcome | None:
    try:
        check_url(url)
    except UnsafeTarget as exc:
        return Outcome(None, 0, error=f"refused: {exc}"[:500])
    return None


def record_successes(succeeded: Sequence[tuple[Claimed, Outcome]], *, failing: set[uuid.UUID] | None = None) -> None:
    """Mark deliveries delivered and log their attempts in one statement (atomic on its own).

    An endpoint that was failing (or failed in the same round) and answered 2xx is healthy again.
    """
    now = timezone.now()
    delivery, attempt = Delivery._meta.db_table, DeliveryAttempt._meta.db_table
    ids = [str(d.id) for d, _o in succeeded]
    codes = [o.status_code for _d, o in succeeded]
    latencies = [o.latency_ms for _d, o in succeeded]
    snippets = [o.snippet for _d, o in succeeded]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH sent AS (SELECT * FROM unnest(%s::uuid[], %s::int[], %s::int[], %s::text[])"  # noqa: S608
            " AS s(id, code, latency, snippet)),"
            f" logged AS (INSERT INTO {attempt}"
            " (delivery_id, attempted_at, status_code, latency_ms, response_snippet, error)"
            " SELECT id, %s, code, latency, snippet, '' FROM sent)"
            f" UPDATE {delivery} AS d SET attempt_count = d.attempt_count + 1, lease_until = NULL,"
            " last_status_code = sent.code, last_error = '', status = %s, delivered_at = %s,"
            " next_attempt_at = NULL FROM sent WHERE d.id = sent.id",
            [ids, codes, latencies, snippets, now, DeliveryStatus.DELIVERED.value, now],
        )
    _count_after_commit("delivered", [d.event.created_at for d, _o in succeeded])
    failing = failing or set()
    recovered = {
        d.endpoint_id for d, _o in succeeded if d.endpoint.failing_since is not None or d.endpoint_id in failing
    }
    if recovered:
        WebhookEndpoint.objects.filter(id__in=recovered).update(failing_since=None)


def record_failures(failed: Sequence[tuple[Claimed, Outcome]]) -> None:
    """Log failed attempts and move each delivery on (retry time in the database, or failed) in one statement.

    Then, once per endpoint: start its failing clock; a 410 Gone disables it at once; a
    delivery that spent its schedule disables it when it has been failing for days.
    """
    now = timezone.now()
    rows: list[tuple[str, int | None, int, str, str, str, datetime | None]] = []
    counted: dict[str, list[datetime | None]] = {"failed": [], "gave_up": []}
    gone: set[uuid.UUID] = set()
    spent: set[uuid.UUID] = set()
    for item, outcome in failed:
        delay = None
        if outcome.status_code == 410:
            gone.add(item.endpoint_id)
        elif outcome.retryable:
            delay = next_delay(item.attempt_count + 1, outcome.retry_after)
        if delay is None:
            status, next_at = DeliveryStatus.FAILED.value, None
            counted["gave_up"].append(None)
            spent.add(item.endpoint_id)
        else:
            status, next_at = DeliveryStatus.PENDING.value, now + timedelta(seconds=delay)
            counted["failed"].append(None)
        rows.append(
            (str(item.id), outcome.status_code, outcome.latency_ms, outcome.snippet, outcome.error, status, next_at)
        )
    columns = [list(column) for column in zip(*rows, strict=True)]
    delivery, attempt = Delivery._meta.db_table, DeliveryAttempt._meta.db_table
    endpoints = {item.endpoint_id: item.endpoint for item, _o in failed}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "WITH tried AS (SELECT * FROM unnest(%s::uuid[], %s::int[], %s::int[], %s::text[], %s::text[],"  # noqa: S608
                " %s::text[], %s::timestamptz[]) AS t(id, code, latency, snippet, error, status, next_at)),"
                f" logged AS (INSERT INTO {attempt}"
                " (delivery_id, attempted_at, status_code, latency_ms, response_snippet, error)"
                " SELECT id, %s, code, latency, snippet, error FROM tried)"
                f" UPDATE {delivery} AS d SET attempt_count = d.attempt_count + 1, lease_until = NULL,"
                " last_status_code = tried.code, last_error = tried.error, status = tried.status,"
                " next_attempt_at = tried.next_at FROM tried WHERE d.id = tried.id",
                [*columns, now],
            )
        clock = [endpoint_id for endpoint_id, endpoint in endpoints.items() if endpoint.failing_since is None]
        if clock:
            WebhookEndpoint.objects.filter(id__in=clock, failing_since__isnull=True).update(failing_since=now)
        for endpoint_id in gone:
            disable_endpoint(endpoint_id=endpoint_id, reason="The endpoint answered 410 Gone.")
        for endpoint_id in spent - gone:
            _disable_if_failing_for_days(endpoint_id, now)
        for outcome_name, created in counted.items():
            if created:
                _count_after_commit(outcome_name, created)


def flush_batch(endpoint_id: str | uuid.UUID, *, force: bool = False) -> str:
    """Batch mode: send a retry-due batch, or form a new one of up to batch_size pending events.

    A partial batch goes out only when its oldest event waited batch_window_seconds (or `force`).
    """
    endpoint = WebhookEndpoint.objects.filter(id=endpoint_id, enabled=True).first()
    if endpoint is None:
        return "skipped"
    now = timezone.now()
    due = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    retry_batch = due.filter(batch_id__isnull=False).values_list("batch_id", flat=True).first()
    if retry_batch is not None:
        batch_id = retry_batch
        if not _claim(Q(endpoint=endpoint, batch_id=batch_id), lease_seconds()):
            return "skipped"
    else:
        with transaction.atomic():
            rows = list(
                due.filter(batch_id__isnull=True)
                .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("event__sequence")
                .values_list("id", "created_at")[: endpoint.batch_size]
            )
            if not rows:
                return "empty"
            oldest = min(created for _id, created in rows)
            window = timedelta(seconds=endpoint.batch_window_seconds)
            if len(rows) < endpoint.batch_size and not force and oldest > now - window:
                return "waiting"
            batch_id = uuid.uuid4()
            Delivery.objects.filter(id__in=[row[0] for row in rows]).update(
                batch_id=batch_id, lease_until=now + timedelta(seconds=lease_seconds())
            )
    deliveries = list(
        Delivery.objects.filter(endpoint=endpoint, batch_id=batch_id, status=DeliveryStatus.PENDING)
        .select_related("event")
        .order_by("event__sequence")
    )
    if not deliveries:
        return "empty"
    schema = current_schema()
    body = json.dumps([event_envelope(d.event, schema) for d in deliveries], separators=(",", ":")).encode()
    url, secrets = endpoint_target(endpoint)
    guard = endpoint.kind != EndpointKind.PLATFORM
    outcome = post_signed(url, secrets, deliveries[0].message_id, body, guard=guard)
    record(endpoint=endpoint, deliveries=deliveries, outcome=outcome)
    return "delivered" if outcome.ok else "failed"


def record(*, endpoint: WebhookEndpoint, deliveries: Sequence[Delivery], outcome: Outcome) -> None:
    """Log the attempt on every delivery sent together and move them on (delivered, retry, failed)."""
    now = timezone.now()
    ids = [d.id for d in deliveries]
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                delivery_id=delivery_id,
                attempted_at=now,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                response_snippet=outcome.snippet,
                error=outcome.error,
            )
            for delivery_id in ids
        )
        rows = Delivery.objects.filter(id__in=ids)
        common: dict[str, Any] = {
            "attempt_count": F("attempt_count") + 1,
            "lease_until": None,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
        }
        if outcome.ok:
            rows.update(**common, status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None)
            if endpoint.failing_since is not None:
                WebhookEndpoint.objects.filter(id=endpoint.id).update(failing_since=None)
            created = list(Event.objects.filter(deliveries__id__in=ids).values_list("created_at", flat=True))
            _count_after_commit("delivered", created)
            return
        if endpoint.failing_since is None:
            WebhookEndpoint.objects.filter(id=endpoint.id, failing_since__isnull=True).update(failing_since=now)
        if outcome.status_code == 410:
            rows.update(**common, status=DeliveryStatus.FAILED, next_attempt_at=None)
            disable_endpoint(endpoint_id=endpoint.id, reason="The endpoint answered 410 Gone.")
            _count_after_commit("gave_up", [None] * len(ids))
            return
        attempts = max(d.attempt_count for d in deliveries) + 1
        delay = next_delay(attempts, outcome.retry_after) if outcome.retryable else None
        if delay is not None:
            rows.update(**common, next_attempt_at=now + timedelta(seconds=delay))
            _count_after_commit("failed", [None] * len(ids))
            return
        rows.update(**common, status=DeliveryStatus.FAILED, next_attempt_at=None)
        _disable_if_failing_for_days(endpoint.id, now)
        _count_after_commit("gave_up", [None] * len(ids))


def _count_after_commit(outcome: str, created_at: Sequence[datetime | None]) -> None:
    """billing_webhook_deliveries_total (and commit-to-delivery latency) once the record commits."""
    schema = current_schema()

    def count() -> None:
        for event_created_at in created_at:
            metrics.observe_webhook_delivery(outcome=outcome, schema_name=schema, event_created_at=event_created_at)

    transaction.on_commit(count)


def _disable_if_failing_for_days(endpoint_id: uuid.UUID, now: datetime) -> None:
    cutoff = now - timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS)
    endpoint = WebhookEndpoint.objects.filter(id=endpoint_id).first()
    if endpoint is not None and endpoint.failing_since is not None and endpoint.failing_since <= cutoff:
        days = settings.WEBHOOK_DISABLE_AFTER_DAYS
        disable_endpoint(endpoint_id=endpoint_id, reason=f"Deliveries kept failing for over {days} days.")


def disable_endpoint(*, endpoint_id: uuid.UUID, reason: str) -> bool:
    """Disable an endpoint and publish webhook_endpoint.disabled (once); True if it was enabled."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(id=endpoint_id, enabled=True).first()
        if endpoint is None:
            return False
        endpoint.enabled = False
        endpoint.disabled_reason = reason[:300]
        endpoint.save(update_fields=["enabled", "disabled_reason", "updated_at"])
        logger.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
        publish(
            "webhook_endpoint.disabled",
            str(endpoint.id),
            {"endpoint": str(endpoint.id), "url": endpoint.url, "reason": reason, "kind": endpoint.kind},
        )
        return True
