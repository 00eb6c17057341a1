"""The metrics and alerts listed in docs/PLATFORM_INTEGRATION.md are the ones the code exports
and deploy/prometheus/rules.yml defines: the block is generated, and this test fails on drift."""

from __future__ import annotations

import re

import pytest
import yaml

from billing_project.observability import catalogue
from tests.platform.conftest import BASE_DIR


@pytest.mark.django_db
def test_the_guide_lists_every_metric_and_alert_as_generated() -> None:
    assert catalogue.documented(), "the Monitoring section lost its generated catalogue block"
    assert catalogue.documented() == catalogue.markdown(), (
        "docs/PLATFORM_INTEGRATION.md's metrics/alerts catalogue is stale: "
        "run `python manage.py monitoring_catalogue --write`"
    )


@pytest.mark.django_db
def test_the_catalogue_covers_the_registry_the_collectors_and_the_rules() -> None:
    names = {metric.name for metric in catalogue.metrics()}
    # The counters of apps.core.metrics (as scraped, with _total), a histogram, and the
    # families only the scrape-time collectors yield (database, Redis, migration runs).
    assert {
        "billing_http_requests_total",
        "billing_http_request_duration_seconds",
        "billing_celery_tasks_total",
        "billing_webhook_deliveries_total",
        "billing_overdue_amount",
        "billing_outbox_oldest_event_age_seconds",
        "billing_celery_queue_length",
        "billing_migration_last_run_success",
    } <= names
    assert all(name.startswith("billing_") for name in names)
    # Every metric an alert or recording rule reads is in the catalogue.
    rules = (BASE_DIR / "deploy" / "prometheus" / "rules.yml").read_text()
    used = set(re.findall(r"\bbilling_[a-z_]+", rules))
    exposed = names | {f"{name}_bucket" for name in names}
    assert used <= exposed, sorted(used - exposed)
    alerts = {rule["alert"] for group in yaml.safe_load(rules)["groups"] for rule in group["rules"] if "alert" in rule}
    assert alerts == {rule["alert"] for rule in catalogue.alerts()}
    for alert in alerts:
        assert f"[`{alert}`](operations.md#{alert.lower()})" in catalogue.documented()
