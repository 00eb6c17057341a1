"""One Redis client per process, for what the cache API cannot do atomically.

Rate-limit windows (INCR) and single-use token ids (SET NX) need Redis' own commands; the
Django cache stays the place for plain cached values.
"""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings

KEY_PREFIX = "billing"


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    """The process' client for `REDIS_URL` (redis-py pools are fork-safe)."""
    return _client(settings.REDIS_URL)


def redis_key(*parts: str) -> str:
    """A key in our namespace: `billing:<DJANGO_ENV>:part:part`."""
    return ":".join((KEY_PREFIX, settings.DJANGO_ENV, *parts))
