"""Health checks: liveness (no dependencies) and readiness (database, Redis, broker, migrations, outbox).

Liveness never touches a dependency: a database outage must not make Kubernetes restart every
pod (OPS-NOTES A.10). Readiness runs every check, each timed and caught, and answers 503 with
JSON naming the failed ones. `manage.py health` runs the same checks for an operator.

django-health-check 4.x was considered: its view is async, answers 500 rather than 503, renders
HTML unless asked for JSON, and has no migrations check (removed in 3.21); these few functions
do exactly what the probes need and run before ALLOWED_HOSTS (ProbeMiddleware).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection as default_connection
from django.http import HttpRequest, JsonResponse

CheckFunction = Callable[[], str | None]


@dataclass
class CheckResult:
    name: str
    ok: bool
    seconds: float
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "seconds": round(self.seconds, 4)}
        if self.detail:
            body["detail"] = self.detail
        return body


def check_database(connection: Any = None) -> str | None:
    """`SELECT 1` on a Django connection (the default one unless given)."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return None


def check_redis(url: str | None = None) -> str | None:
    import redis

    client = redis.Redis.from_url(
        url or settings.REDIS_URL,
        socket_timeout=settings.HEALTH_CHECK_TIMEOUT_SECONDS,
        socket_connect_timeout=settings.HEALTH_CHECK_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()
    return None


def check_broker() -> str | None:
    from billing_project.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.HEALTH_CHECK_TIMEOUT_SECONDS)
    return None


@lru_cache(maxsize=1)
def expected_migrations() -> tuple[frozenset[tuple[str, str]], frozenset[tuple[str, str]]]:
    """The leaf migrations on disk that public and tenant schemas must have applied."""
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
    leaves = set(loader.graph.leaf_nodes())

    def labels(modules: list[str]) -> set[str]:
        return {config.label for config in apps.get_app_configs() if config.name in modules}

    shared, tenant = labels(settings.SHARED_APPS), labels(settings.TENANT_APPS)
    return (
        frozenset(node for node in leaves if node[0] in shared),
        frozenset(node for node in leaves if node[0] in tenant),
    )


def check_migrations(sample: int | None = None) -> str | None:
    """Public and a random sample of tenant schemas have every leaf migration applied.

    Two statements whatever the tenant count: pick the sample, then one UNION ALL over the
    sampled schemas' django_migrations.
    """
    sample = settings.HEALTH_MIGRATION_SAMPLE if sample is None else sample
    public_expected, tenant_expected = expected_migrations()
    with default_connection.cursor() as cursor:
        cursor.execute(
            "SELECT schema_name FROM public.tenants_tenant WHERE schema_name <> 'public' ORDER BY random() LIMIT %s",
            [sample],
        )
        schemas = ["public", *(row[0] for row in cursor.fetchall())]
        # Schema names come from the tenants table and are quoted as identifiers.
        union = " UNION ALL ".join(
            f"SELECT %s, app, name FROM {default_connection.ops.quote_name(schema)}.django_migrations"  # noqa: S608
            for schema in schemas
        )
        cursor.execute(union, schemas)
        applied: dict[str, set[tuple[str, str]]] = {schema: set() for schema in schemas}
        for schema, app_label, name in cursor.fetchall():
            applied[schema].add((app_label, name))
    problems = []
    for schema in schemas:
        missing = (public_expected if schema == "public" else tenant_expected) - applied[schema]
        if missing:
            names = ", ".join(f"{app_label}.{name}" for app_label, name in sorted(missing)[:3])
            problems.append(f"{schema} lacks {names}")
    return "; ".join(problems) or None


def check_outbox() -> str | None:
    """The oldest undelivered event is younger than HEALTH_OUTBOX_LAG_SECONDS (from the DB gauges,
    whose summary beat refreshes every METRICS_REFRESH_SECONDS; the age itself is computed now)."""
    from billing_project.observability.db_gauges import DatabaseGaugeCollector

    snapshot = DatabaseGaugeCollector().current()
    if snapshot is None or "outbox" not in snapshot.sums:
        return None
    oldest = max((row[5] for row in snapshot.rows("outbox")), default=0.0)
    if oldest > settings.HEALTH_OUTBOX_LAG_SECONDS:
        return f"oldest undelivered event is {oldest:.0f}s old (limit {settings.HEALTH_OUTBOX_LAG_SECONDS:.0f}s)"
    return None


READY_CHECKS: dict[str, CheckFunction] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
    "migrations": check_migrations,
    "outbox": check_outbox,
}


def run_check(name: str, check: CheckFunction) -> CheckResult:
    started = time.perf_counter()
    try:
        problem = check()
    except Exception as exc:
        problem = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:300]
    return CheckResult(name=name, ok=problem is None, seconds=time.perf_counter() - started, detail=problem or "")


NEEDS_DATABASE = frozenset({"migrations", "outbox"})


def run_checks(checks: dict[str, CheckFunction] | None = None) -> list[CheckResult]:
    """Run every check (each caught and timed); database-bound ones are skipped when it is down."""
    results = []
    database_down = False
    for name, check in (checks or READY_CHECKS).items():
        if database_down and name in NEEDS_DATABASE:
            results.append(CheckResult(name=name, ok=False, seconds=0.0, detail="skipped: database unavailable"))
            continue
        result = run_check(name, check)
        database_down = database_down or (name == "database" and not result.ok)
        results.append(result)
    return results


def health_response(results: list[CheckResult]) -> JsonResponse:
    failed = [result.name for result in results if not result.ok]
    body = {
        "status": "fail" if failed else "ok",
        "failed": failed,
        "checks": {result.name: result.as_json() for result in results},
    }
    response = JsonResponse(body, status=503 if failed else 200)
    response["Cache-Control"] = "no-store"
    return response


def live_view(request: HttpRequest) -> JsonResponse:
    """The process answers: nothing else is checked."""
    response = JsonResponse({"status": "ok"})
    response["Cache-Control"] = "no-store"
    return response


def ready_view(request: HttpRequest) -> JsonResponse:
    return health_response(run_checks())
