"""/metrics: one scrape shows the whole deployment (every gunicorn worker and Celery process).

With `PROMETHEUS_MULTIPROC_DIR` set (Procfile, devenv, the container's start-up shell; it must
be exported before Python starts and wiped before web and worker start), every process
writes its counters to files there and each scrape builds a fresh `CollectorRegistry` with a
`MultiProcessCollector` over them (OPS-NOTES A.1/A.2: django-prometheus' own view would
drop our collectors and has no auth). Without it (runserver, tests), the process' default
`REGISTRY` is served. Either way the scrape adds the collectors that read shared state at
scrape time: the database gauges, the Celery queues in Redis and the migration runs.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from apps.core.api.problems import problem_response
from billing_project.observability.multiproc import MergedMultiProcessCollector, multiprocess_dir, sweep_dead_processes

logger = logging.getLogger(__name__)


def scrape_collectors() -> list[Collector]:
    """The collectors that compute from shared state at scrape time."""
    from apps.tenants.migrating.metrics import MigrationRunCollector
    from billing_project.observability.db_gauges import DatabaseGaugeCollector
    from billing_project.observability.queues import QueueCollector

    return [DatabaseGaugeCollector(), QueueCollector(), MigrationRunCollector()]


class _ScrapeRegistry:
    """What generate_latest() needs: collect() over the process or multiprocess values and extras."""

    def __init__(self, base: Collector, extras: Iterable[Collector]) -> None:
        self.base = base
        self.extras = list(extras)

    def collect(self) -> Iterator[Metric]:
        yield from self.base.collect()
        for collector in self.extras:
            try:
                yield from collector.collect()
            except Exception:
                # One broken source (Redis down) must not blank the whole scrape.
                logger.exception("metrics: collector %s failed", type(collector).__name__)


def build_registry() -> _ScrapeRegistry:
    if multiprocess_dir():
        sweep_dead_processes()
        return _ScrapeRegistry(MergedMultiProcessCollector(), scrape_collectors())
    return _ScrapeRegistry(REGISTRY, scrape_collectors())


def token_accepted(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text format, behind `Authorization: Bearer $METRICS_TOKEN` when set."""
    if not token_accepted(request):
        response = problem_response(
            401,
            type_slug="metrics-unauthorized",
            title="Metrics need a token",
            detail="Send Authorization: Bearer <METRICS_TOKEN>.",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(build_registry()), content_type=CONTENT_TYPE_LATEST)
