"""Celery queue depth and age of the oldest waiting message, read from the Redis broker at scrape time.

kombu's Redis transport LPUSHes messages and workers BRPOP them, so the oldest message of a
queue is `LINDEX queue -1`; priorities other than 0 live in `queue\\x06\\x16<priority>` keys.
Messages carry no sent time, so `before_task_publish` adds a `billing_sent_at` header
(billing_project.observability.celery_signals). One pipelined round trip per scrape.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from functools import lru_cache

import redis
from django.conf import settings
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

SENT_AT_HEADER = "billing_sent_at"
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)


def queue_keys(queue: str) -> list[str]:
    return [queue if priority == 0 else f"{queue}{PRIORITY_SEPARATOR}{priority}" for priority in PRIORITY_STEPS]


@lru_cache(maxsize=2)
def _broker(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def sent_at_of(raw: bytes | None) -> float | None:
    """The `billing_sent_at` header of a raw kombu message, if it has one."""
    if not raw:
        return None
    try:
        headers = json.loads(raw).get("headers") or {}
        value = headers.get(SENT_AT_HEADER)
        return float(value) if value is not None else None
    except (ValueError, TypeError, AttributeError):
        return None


def queue_stats(queues: tuple[str, ...]) -> dict[str, tuple[int, float | None]]:
    """queue -> (messages waiting, age in seconds of the oldest one or None)."""
    client = _broker(settings.CELERY_BROKER_URL)
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for key in queue_keys(queue):
            pipe.llen(key)
            pipe.lindex(key, -1)
    replies = pipe.execute()
    now = time.time()
    stats: dict[str, tuple[int, float | None]] = {}
    position = 0
    for queue in queues:
        depth, oldest = 0, None
        for _key in queue_keys(queue):
            length, raw = replies[position], replies[position + 1]
            position += 2
            depth += int(length or 0)
            sent_at = sent_at_of(raw)
            if sent_at is not None:
                oldest = sent_at if oldest is None else min(oldest, sent_at)
        stats[queue] = (depth, None if oldest is None else max(now - oldest, 0.0))
    return stats


class QueueCollector(Collector):
    """billing_celery_queue_length and billing_celery_queue_oldest_message_age_seconds per queue."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from billing_project.celery import QUEUES

        length = GaugeMetricFamily(
            "billing_celery_queue_length", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "billing_celery_queue_oldest_message_age_seconds",
            "Age of the oldest message waiting in a Celery queue (0 when empty).",
            labels=["queue"],
        )
        for queue, (depth, oldest_age) in queue_stats(QUEUES).items():
            length.add_metric([queue], float(depth))
            age.add_metric([queue], oldest_age or 0.0)
        yield length
        yield age
