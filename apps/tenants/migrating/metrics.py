"""Prometheus metrics of migration runs, read from the run records at scrape time.

A run is a short-lived command, so counters in its process would die with it; the records in
the public schema are the truth, and any process that serves /metrics can expose them. Register
`MigrationRunCollector()` on the registry the metrics view builds per scrape.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.tenants.models import MigrationRun, MigrationRunKind, MigrationRunStatus


class MigrationRunCollector(Collector):
    """The latest finished `safe_migrate` run: duration, schemas failed, success, when it ended."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        run = (
            MigrationRun.objects.filter(kind__in=[MigrationRunKind.MIGRATE, MigrationRunKind.REVERSE])
            .exclude(status__in=[MigrationRunStatus.RUNNING, MigrationRunStatus.REFUSED])
            .order_by("-finished_at", "-id")
            .first()
        )
        families = {
            "duration": GaugeMetricFamily(
                "billing_migration_last_run_duration_seconds", "Duration of the latest finished safe_migrate run."
            ),
            "failed": GaugeMetricFamily(
                "billing_migration_last_run_schemas_failed", "Schemas (tenants) that failed in the latest run."
            ),
            "success": GaugeMetricFamily(
                "billing_migration_last_run_success", "1 if the latest finished run succeeded, else 0."
            ),
            "finished": GaugeMetricFamily(
                "billing_migration_last_run_timestamp_seconds", "When the latest finished run ended (Unix time)."
            ),
        }
        if run is not None and run.finished_at is not None:
            families["duration"].add_metric([], float(run.duration_seconds or 0))
            families["failed"].add_metric([], float(run.schemas_failed))
            families["success"].add_metric([], 1.0 if run.status == MigrationRunStatus.SUCCEEDED else 0.0)
            families["finished"].add_metric([], run.finished_at.timestamp())
        yield from families.values()
