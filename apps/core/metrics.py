"""Every Prometheus metric object of the product, in one place (ARCHITECTURE: owned by #9).

Other apps import from here and increment; nothing else defines a metric object, so names,
labels and buckets stay consistent. Naming follows prometheus.io/docs/practices/naming:
`billing_` prefix, base units (`_seconds`), `_total` on counters (the client appends it).
Money has no base unit: `currency` is a label and amounts are in the currency's units.

Multiprocess: when `PROMETHEUS_MULTIPROC_DIR` is set before prometheus_client is imported,
every process writes its values to files there and `/metrics` merges them
(apps.core.observability.views). Live gauges declare a `live*` mode so a dead process's
value disappears when `mark_process_dead(pid)` runs (gunicorn child_exit, Celery
worker_process_shutdown).

Cardinality (OPS-NOTES A.7): histograms never carry `tenant`. Business counters carry
`tenant` when `METRICS_TENANT_LABEL=all` (optionally limited by `METRICS_TENANT_ALLOWLIST`,
other tenants counted as `tenant="other"`); with `none` (the default) no series has the
label and per-tenant detail comes from the DB gauges, logs and SQL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

# --- Tenant label policy ---------------------------------------------------------------------
OTHER_TENANT = "other"


def _tenant_label_mode() -> str:
    # Read from the environment, not django.conf: label names are fixed when the metric
    # objects are created (import time), and this module must import without settings.
    mode = os.environ.get("METRICS_TENANT_LABEL", "none").strip().lower() or "none"
    return mode if mode in {"all", "none"} else "none"


def _tenant_allowlist() -> frozenset[str]:
    raw = os.environ.get("METRICS_TENANT_ALLOWLIST", "")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


TENANT_LABEL_ENABLED = _tenant_label_mode() == "all"
TENANT_ALLOWLIST = _tenant_allowlist()
_TENANT = ("tenant",) if TENANT_LABEL_ENABLED else ()


def tenant_label_value(schema_name: str | None) -> str:
    """The `tenant` label for a schema under the policy (allow-listed or `other`)."""
    if not schema_name or schema_name == "public":
        return OTHER_TENANT
    if TENANT_ALLOWLIST and schema_name not in TENANT_ALLOWLIST:
        return OTHER_TENANT
    return schema_name


def business_labels(schema_name: str | None, **labels: str) -> dict[str, str]:
    """Labels of a business counter: `labels` plus `tenant` when the policy enables it."""
    if TENANT_LABEL_ENABLED:
        return {**labels, "tenant": tenant_label_value(schema_name)}
    return dict(labels)


def business(metric: Any, schema_name: str | None, **labels: str) -> Any:
    """The child of a business metric for these labels (plus `tenant` under the policy).

    business(PAYMENTS, current_schema(), gateway="stripe", outcome="succeeded").inc()
    """
    values = business_labels(schema_name, **labels)
    return metric.labels(**values) if values else metric


# --- Buckets ---------------------------------------------------------------------------------
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
DELIVERY_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0)
# Payment amounts span kobo to millions of naira: decades, in the currency's units.
AMOUNT_BUCKETS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)

# --- HTTP (web processes) --------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "billing_http_requests",
    "HTTP requests answered, by route template, method, status class and API version.",
    ["route", "method", "status", "api_version"],
)
HTTP_REQUEST_DURATION = Histogram(
    "billing_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method, status class and API version.",
    ["route", "method", "status", "api_version"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS_IN_PROGRESS = Gauge(
    "billing_http_requests_in_progress",
    "HTTP requests being answered now (live processes only).",
    multiprocess_mode="livesum",
)
PROCESS_UP = Gauge(
    "billing_process_up",
    "1 per live web or worker process (a series per PID in multiprocess mode).",
    ["kind"],
    multiprocess_mode="liveall",
)

# --- Database ------------------------------------------------------------------------------
DB_QUERIES = Counter(
    "billing_db_queries", "SQL statements executed, by connection alias and outcome.", ["alias", "outcome"]
)
DB_QUERY_DURATION = Histogram(
    "billing_db_query_duration_seconds", "SQL statement duration, by connection alias.", ["alias"], buckets=DB_BUCKETS
)

# --- Celery --------------------------------------------------------------------------------
CELERY_TASKS = Counter(
    "billing_celery_tasks",
    "Celery task executions finished, by task, queue and outcome (succeeded, failed, retried).",
    ["task", "queue", "outcome"],
)
CELERY_TASK_DURATION = Histogram(
    "billing_celery_task_duration_seconds",
    "Celery task run time, by task and queue.",
    ["task", "queue"],
    buckets=TASK_BUCKETS,
)
CELERY_TASKS_PUBLISHED = Counter(
    "billing_celery_tasks_published", "Celery tasks sent to the broker, by task and queue.", ["task", "queue"]
)
CELERY_TASKS_IN_PROGRESS = Gauge(
    "billing_celery_tasks_in_progress",
    "Celery tasks running now, by queue (live processes only).",
    ["queue"],
    multiprocess_mode="livesum",
)

# --- Outbound HTTP (payment gateways, ESP, Twilio, webhooks) ---------------------------------
EXTERNAL_REQUESTS = Counter(
    "billing_external_requests",
    "Calls to external services, by service and outcome (success, client_error, server_error, network_error).",
    ["service", "outcome"],
)
EXTERNAL_REQUEST_DURATION = Histogram(
    "billing_external_request_duration_seconds",
    "Duration of calls to external services, by service.",
    ["service"],
    buckets=LATENCY_BUCKETS,
)

# --- Business counters (counted after commit) -----------------------------------------------
INVOICES_FINALIZED = Counter("billing_invoices_finalized", "Invoices finalized.", [*_TENANT])
INVOICE_AMOUNT = Counter(
    "billing_invoice_amount", "Total of finalized invoices, in the currency's units.", ["currency", *_TENANT]
)
PAYMENTS = Counter("billing_payments", "Payments recorded, by gateway and outcome.", ["gateway", "outcome", *_TENANT])
PAYMENT_AMOUNT = Counter(
    "billing_payment_amount", "Total of succeeded payments, in the currency's units.", ["currency", *_TENANT]
)
PAYMENT_AMOUNT_HISTOGRAM = Histogram(
    "billing_payment_amount_distribution",
    "Succeeded payment amounts, in the currency's units.",
    ["currency"],
    buckets=AMOUNT_BUCKETS,
)
REFUNDS = Counter("billing_refunds", "Refunds issued, by gateway.", ["gateway", *_TENANT])
REFUND_AMOUNT = Counter("billing_refund_amount", "Total refunded, in the currency's units.", ["currency", *_TENANT])
CREDIT_NOTES = Counter("billing_credit_notes_issued", "Credit notes issued.", [*_TENANT])
CREDIT_NOTE_AMOUNT = Counter(
    "billing_credit_note_amount", "Total of issued credit notes, in the currency's units.", ["currency", *_TENANT]
)
DUNNING_ACTIONS = Counter(
    "billing_dunning_actions", "Dunning steps executed, by action and outcome.", ["action", "outcome", *_TENANT]
)
NOTIFICATIONS = Counter(
    "billing_notifications", "Notifications sent or failed, by channel and outcome.", ["channel", "outcome", *_TENANT]
)
WEBHOOK_DELIVERIES = Counter(
    "billing_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, failed, gave_up).",
    ["outcome", *_TENANT],
)
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "billing_webhook_endpoints_disabled", "Webhook endpoints disabled (webhook_endpoint.disabled events).", [*_TENANT]
)
DUNNING_RUNS = Counter(
    "billing_dunning_runs", "Daily dunning runs finished, by outcome (succeeded, failed).", ["outcome"]
)
DUNNING_LAST_RUN_SUCCESS = Gauge(
    "billing_dunning_last_run_success_timestamp_seconds",
    "When the last successful dunning run finished (Unix time).",
    multiprocess_mode="max",
)
EVENT_DELIVERY_LATENCY = Histogram(
    "billing_event_delivery_latency_seconds",
    "Time from an event's commit (created_at) to its successful webhook delivery.",
    buckets=DELIVERY_BUCKETS,
)


# --- Database gauges' summary (billing_project.observability.db_gauges; beat refreshes it) ------
METRICS_SUMMARY_REFRESHES = Counter(
    "billing_db_gauges_refreshes",
    "Refreshes of a tenant's row of the metrics summary table, by outcome (succeeded, failed).",
    ["outcome"],
)


# --- Helpers other apps call -----------------------------------------------------------------
def amount_value(amount: Decimal | str | float) -> float:
    """A money amount as the float Prometheus stores (exact to the cent below 2^53 minor units)."""
    return float(Decimal(str(amount)))


def observe_webhook_delivery(*, outcome: str, schema_name: str | None, event_created_at: Any = None) -> None:
    """Count one webhook delivery attempt; on success also observe commit-to-delivery latency.

    The events app calls this after each attempt: `outcome` is `delivered`, `failed` (will be
    retried) or `gave_up`; `event_created_at` is the Event's aware `created_at`.
    """
    WEBHOOK_DELIVERIES.labels(**business_labels(schema_name, outcome=outcome)).inc()
    if outcome == "delivered" and event_created_at is not None:
        latency = time.time() - event_created_at.timestamp()
        EVENT_DELIVERY_LATENCY.observe(max(latency, 0.0))


def observe_dunning_run(*, succeeded: bool) -> None:
    """The dunning run calls this when a run (all tenants) ends; alerts page on a missed day."""
    DUNNING_RUNS.labels(outcome="succeeded" if succeeded else "failed").inc()
    if succeeded:
        DUNNING_LAST_RUN_SUCCESS.set(time.time())


@dataclass
class HttpCall:
    """What the caller learnt about one outbound call: set `status_code` when a response came."""

    service: str
    status_code: int | None = None


def outcome_of(status_code: int | None, *, failed: bool) -> str:
    if status_code is None:
        return "network_error" if failed else "success"
    if status_code >= 500:
        return "server_error"
    if status_code >= 400:
        return "client_error"
    return "success"


def count_http_call(service: str, *, status_code: int | None, seconds: float) -> None:
    """Count one finished outbound call (`status_code` None: no answer, a network error)."""
    EXTERNAL_REQUEST_DURATION.labels(service=service).observe(max(seconds, 0.0))
    EXTERNAL_REQUESTS.labels(service=service, outcome=outcome_of(status_code, failed=status_code is None)).inc()


@contextmanager
def observe_http_call(service: str) -> Iterator[HttpCall]:
    """Time and count one call to an external service (`stripe`, `esp`, `twilio`, `webhook`).

        with observe_http_call("twilio") as call:
            response = client.post(...)
            call.status_code = response.status_code

    An exception without a status code counts as `network_error`; a status code decides the
    outcome otherwise (4xx client_error, 5xx server_error).
    """
    call = HttpCall(service=service)
    started = time.perf_counter()
    failed = False
    try:
        yield call
    except BaseException:
        failed = True
        raise
    finally:
        EXTERNAL_REQUEST_DURATION.labels(service=service).observe(time.perf_counter() - started)
        EXTERNAL_REQUESTS.labels(service=service, outcome=outcome_of(call.status_code, failed=failed)).inc()


def httpx_event_hooks(service: str) -> dict[str, list[Any]]:
    """httpx `event_hooks` that count and time every response of a client (`service` label).

    Network errors never reach a response hook: wrap the call in `observe_http_call` when they
    must be counted too.
    """

    def on_request(request: Any) -> None:
        request.extensions["billing_started"] = time.perf_counter()

    def on_response(response: Any) -> None:
        started = response.request.extensions.get("billing_started")
        if started is not None:
            EXTERNAL_REQUEST_DURATION.labels(service=service).observe(time.perf_counter() - started)
        EXTERNAL_REQUESTS.labels(service=service, outcome=outcome_of(response.status_code, failed=False)).inc()

    return {"request": [on_request], "response": [on_response]}
