"""Liveness without dependencies, readiness naming what failed, and the operator's command."""

from __future__ import annotations

import datetime as dt
import socket
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.utils import load_backend
from django.test import Client
from django.utils import timezone

from billing_project.observability import health

POD_IP_HOST = "10.42.0.17:8000"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable_database() -> object:
    """A real Django connection to a PostgreSQL DSN where nothing listens."""
    settings_dict = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(closed_port())}
    settings_dict["OPTIONS"] = {**settings_dict.get("OPTIONS", {}), "connect_timeout": 2}
    settings_dict["OPTIONS"].pop("host", None)
    return load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "unreachable")


def test_liveness_answers_on_the_pod_ip_without_touching_anything(db: None) -> None:
    response = Client(HTTP_HOST=POD_IP_HOST).get("/health/live")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readiness_runs_every_check_and_answers_200(db: None, settings) -> None:
    # Earlier tests (receiver outages) may leave old pending deliveries in committed schemas:
    # the outbox check has its own test below.
    settings.HEALTH_OUTBOX_LAG_SECONDS = 10**9
    response = Client(HTTP_HOST=POD_IP_HOST).get("/health/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["failed"] == []
    assert list(body["checks"]) == ["database", "redis", "broker", "migrations", "outbox"]
    assert all(check["ok"] for check in body["checks"].values())


def test_an_unreachable_database_fails_the_database_check(db: None) -> None:
    unreachable = unreachable_database()
    try:
        results = health.run_checks(
            {
                "database": lambda: health.check_database(unreachable),
                "redis": health.check_redis,
                "migrations": health.check_migrations,
            }
        )
    finally:
        unreachable.close()  # type: ignore[attr-defined]
    response = health.health_response(results)
    assert response.status_code == 503
    import json

    body = json.loads(response.content)
    assert body["failed"] == ["database", "migrations"]
    assert "OperationalError" in body["checks"]["database"]["detail"]
    assert body["checks"]["migrations"]["detail"] == "skipped: database unavailable"
    assert body["checks"]["redis"]["ok"] is True


def test_an_unreachable_redis_fails_the_redis_and_broker_checks(db: None, settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    results = health.run_checks({"redis": health.check_redis, "database": health.check_database})
    assert [(r.name, r.ok) for r in results] == [("redis", False), ("database", True)]


def test_a_tenant_missing_a_migration_fails_readiness(committed_tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM "{committed_tenant.schema_name}".django_migrations '
            "WHERE id = (SELECT max(id) FROM " + f'"{committed_tenant.schema_name}".django_migrations WHERE app = %s)',
            ["invoices"],
        )
    problem = health.check_migrations(sample=1000)
    assert problem is not None and problem.startswith(f"{committed_tenant.schema_name} lacks invoices.")


def test_the_health_command_prints_each_check_and_exits_non_zero_on_failure(db: None, settings) -> None:
    out = StringIO()
    call_command("health", stdout=out)
    assert [line.split()[0] for line in out.getvalue().splitlines()[:5]] == ["ok"] * 5
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    with pytest.raises(SystemExit) as exit_info:
        call_command("health", stdout=StringIO())
    assert exit_info.value.code == 1


def test_an_old_undelivered_event_fails_the_outbox_check(committed_tenant, settings) -> None:
    from django.db import transaction

    from apps.core.tenancy import use_public_schema, use_tenant
    from apps.events.models import Delivery
    from apps.events.services import publish
    from apps.events.webhooks import endpoint_create
    from billing_project.observability.db_gauges import DatabaseGaugeCollector, refresh_all

    use_tenant(committed_tenant)
    endpoint_create(url="https://receiver.example.com/hooks", event_types=["*"])
    with transaction.atomic():
        publish("account.created", "acc-1", {"account": "acc-1"})
    Delivery.objects.update(created_at=timezone.now() - dt.timedelta(hours=2))
    use_public_schema()
    settings.HEALTH_OUTBOX_LAG_SECONDS = 3600
    refresh_all()  # what beat does every METRICS_REFRESH_SECONDS
    DatabaseGaugeCollector.reset()
    problem = health.check_outbox()
    assert problem is not None and problem.startswith("oldest undelivered event is ")
    settings.HEALTH_OUTBOX_LAG_SECONDS = 10**9
    assert health.check_outbox() is None
