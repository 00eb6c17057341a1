"""Business counters from domain events, counted after commit.

`apps.events.services.on_published` runs a hook for every event inside the publishing
transaction; the hook schedules the counting with `transaction.on_commit`, so work that
rolls back is never counted and each committed event is counted exactly once, in the process
that committed it (web or worker alike: the multiprocess files merge them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.db import transaction

from apps.core import metrics
from apps.core.tenancy import current_schema

logger = logging.getLogger(__name__)

Counting = Callable[[dict[str, Any], str], None]


def _amount(data: dict[str, Any], key: str) -> float:
    try:
        return metrics.amount_value(Decimal(str(data.get(key) or "0")))
    except (InvalidOperation, ValueError):
        return 0.0


def _label(data: dict[str, Any], key: str, default: str = "unknown") -> str:
    value = str(data.get(key) or default)
    return value[:40]


def _invoice_finalized(data: dict[str, Any], schema: str) -> None:
    metrics.business(metrics.INVOICES_FINALIZED, schema).inc()
    currency = _label(data, "currency")
    metrics.business(metrics.INVOICE_AMOUNT, schema, currency=currency).inc(_amount(data, "total"))


def _payment(outcome: str, data: dict[str, Any], schema: str) -> None:
    gateway = _label(data, "gateway", "manual")
    metrics.business(metrics.PAYMENTS, schema, gateway=gateway, outcome=outcome).inc()
    if outcome == "succeeded":
        currency, amount = _label(data, "currency"), _amount(data, "amount")
        metrics.business(metrics.PAYMENT_AMOUNT, schema, currency=currency).inc(amount)
        metrics.PAYMENT_AMOUNT_HISTOGRAM.labels(currency=currency).observe(amount)


def _refund(data: dict[str, Any], schema: str) -> None:
    gateway = _label(data, "gateway", "manual")
    metrics.business(metrics.REFUNDS, schema, gateway=gateway).inc()
    currency = _label(data, "currency")
    metrics.business(metrics.REFUND_AMOUNT, schema, currency=currency).inc(_amount(data, "refund_amount"))


def _credit_note(data: dict[str, Any], schema: str) -> None:
    metrics.business(metrics.CREDIT_NOTES, schema).inc()
    currency = _label(data, "currency")
    metrics.business(metrics.CREDIT_NOTE_AMOUNT, schema, currency=currency).inc(_amount(data, "amount"))


def _dunning_step(data: dict[str, Any], schema: str) -> None:
    labels = {"action": _label(data, "action"), "outcome": _label(data, "outcome")}
    metrics.business(metrics.DUNNING_ACTIONS, schema, **labels).inc()


def _notification(outcome: str, data: dict[str, Any], schema: str) -> None:
    labels = {"channel": _label(data, "channel"), "outcome": outcome}
    metrics.business(metrics.NOTIFICATIONS, schema, **labels).inc()


def _endpoint_disabled(data: dict[str, Any], schema: str) -> None:
    metrics.business(metrics.WEBHOOK_ENDPOINTS_DISABLED, schema).inc()


COUNTERS: dict[str, Counting] = {
    "invoice.finalized": _invoice_finalized,
    "payment.succeeded": partial(_payment, "succeeded"),
    "payment.failed": partial(_payment, "failed"),
    "payment.refunded": _refund,
    "credit_note.issued": _credit_note,
    "dunning.step_executed": _dunning_step,
    "notification.sent": partial(_notification, "sent"),
    "notification.failed": partial(_notification, "failed"),
    "webhook_endpoint.disabled": _endpoint_disabled,
}


def _count(counting: Counting, event_type: str, data: dict[str, Any], schema: str) -> None:
    try:
        counting(data, schema)
    except Exception:
        # A metric must never break the product: log and go on.
        logger.exception("metrics: counting %s failed", event_type)


def count_after_commit(event: Any) -> None:
    """The `on_published` hook: schedule the event's counters for after the commit."""
    counting = COUNTERS.get(event.type)
    if counting is not None:
        transaction.on_commit(partial(_count, counting, event.type, dict(event.data), current_schema()))
