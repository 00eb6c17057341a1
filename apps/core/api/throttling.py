"""Per-credential rate limit in Redis (`API_RATE_LIMIT`, DRF syntax: `1000/min`).

A fixed window per caller: one INCR per request, atomic across every web process. The
caller is the token's user within its tenant or the API key; anonymous requests count per
client address. If Redis cannot be reached the request is let through (and logged):
rate limiting protects capacity, it is not an access control.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from apps.core.api.permissions import principal_of
from apps.core.redis import redis_client, redis_key

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int] | None:
    """`"1000/min"` -> (1000, 60); empty or `"none"` -> no limit."""
    if not rate or rate.strip().lower() == "none":
        return None
    count, _, period = rate.partition("/")
    try:
        return int(count), _PERIODS[period.strip()[0].lower()]
    except (ValueError, KeyError, IndexError) as exc:
        raise ImproperlyConfigured(f"API_RATE_LIMIT {rate!r} is not a rate like '1000/min'") from exc


class CredentialRateThrottle(BaseThrottle):
    """Allow `API_RATE_LIMIT` requests per caller and window; 429 with Retry-After beyond."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def caller_of(self, request: Request) -> str:
        principal = principal_of(request)
        if principal is not None:
            return f"{principal.tenant}:{principal.caller}"
        return f"addr:{self.get_ident(request)}"

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = parse_rate(settings.API_RATE_LIMIT)
        if rate is None:
            return True
        limit, duration = rate
        now = time.time()
        window = int(now // duration)
        key = redis_key("throttle", self.caller_of(request), str(duration), str(window))
        try:
            pipe = redis_client().pipeline(transaction=False)
            pipe.set(key, 0, ex=duration + 1, nx=True)
            pipe.incr(key)
            count = int(pipe.execute()[1])
        except redis.RedisError:
            logger.warning("rate limit not enforced: Redis unavailable", exc_info=True)
            return True
        if count <= limit:
            return True
        self._wait = duration - (now - window * duration)
        return False

    def wait(self) -> float | None:
        return self._wait
