"""Shared fixtures: two committed tenants (alpha, beta), clients on their hosts, a real worker.

Tenants are created once per session in the test database and committed, so real worker
processes and parallel connections see them; each test still runs in a transaction that is
rolled back (pytest-django's `db`), inside one tenant's schema where it asks for one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from apps.core.tenancy import use_public_schema, use_tenant
from apps.tenants.models import Tenant
from apps.tenants.services import StaffUser, tenant_create

# Property tests time each example against Hypothesis's 200 ms deadline by default; on a loaded
# box one slow example (a GC pause, a page fault) fails it as Flaky. They assert properties, not
# speed. On top of the active profile: with CI set, Hypothesis's own (derandomized) one.
hypothesis.settings.register_profile("billing", parent=hypothesis.settings.default, deadline=None)
hypothesis.settings.load_profile("billing")

BASE_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"

TEST_TENANTS = {"alpha": "Alpha Networks", "beta": "Beta Broadband"}


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """Always set up the test database (pytest-django would skip it when no collected test
    asks for `db`, and the committed-data fixtures would then touch the dev database), then
    add the session tenants."""
    from django.test.utils import setup_databases, teardown_databases

    keepdb = django_db_keepdb and not django_db_createdb
    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default": {}}, keepdb=keepdb)
        use_public_schema()
        for slug, name in TEST_TENANTS.items():
            if not Tenant.objects.filter(schema_name=slug).exists():
                tenant_create(slug=slug, name=name, staff=StaffUser("admin", f"admin@{slug}.test", PASSWORD))
    yield
    if not keepdb:
        with django_db_blocker.unblock():
            use_public_schema()
            teardown_databases(config, verbosity=0)


@pytest.fixture
def tenant_a(db: None) -> Tenant:
    return Tenant.objects.get(schema_name="alpha")


@pytest.fixture
def tenant_b(db: None) -> Tenant:
    return Tenant.objects.get(schema_name="beta")


@pytest.fixture
def in_tenant_a(tenant_a: Tenant) -> Iterator[Tenant]:
    """Run the test body in tenant A's schema."""
    use_tenant(tenant_a)
    yield tenant_a
    use_public_schema()


def host_of(tenant: Tenant) -> str:
    return f"{tenant.schema_name}.{settings.BASE_DOMAIN}"


@pytest.fixture
def client_a(tenant_a: Tenant) -> Client:
    return Client(HTTP_HOST=host_of(tenant_a))


@pytest.fixture
def client_b(tenant_b: Tenant) -> Client:
    return Client(HTTP_HOST=host_of(tenant_b))


def test_database_environment() -> dict[str, str]:
    """Environment for child processes (workers, servers) that must use the test database."""
    environment = dict(os.environ)
    db = settings.DATABASES["default"]
    environment["DJANGO_ENV"] = "test"
    environment["DATABASE_URL"] = _database_url(db)
    return environment


def _database_url(db: dict) -> str:
    from urllib.parse import quote

    host = quote(db.get("HOST") or "", safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    user = quote(db.get("USER") or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    socket_dir = (db.get("OPTIONS") or {}).get("host")
    query = f"?host={quote(socket_dir)}" if socket_dir else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}{query}"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup: None) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process (prefork, 2 children) on the test database and real Redis."""
    from billing_project.celery import app

    log_path = BASE_DIR / ".local" / "test-worker.log"
    log_path.parent.mkdir(exist_ok=True)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "billing_project",
                "worker",
                "-Q",
                "notifications-high,webhooks,dunning,notifications,default",
                "-c",
                "2",
                "--hostname",
                f"test-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            cwd=BASE_DIR,
            env=test_database_environment(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        # Wait until the worker answers a ping (a real readiness signal, not a sleep).
        for _ in range(60):
            if process.poll() is not None:
                raise RuntimeError(f"celery worker died; see {log_path}")
            replies = app.control.ping(destination=[f"test-{os.getpid()}@{os.uname().nodename}"], timeout=1.0)
            if replies:
                break
        else:
            process.kill()
            raise RuntimeError(f"celery worker never answered; see {log_path}")
        yield process
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def schema_a(tenant_a: Tenant) -> Iterator[None]:
    with schema_context(tenant_a.schema_name):
        yield


@pytest.fixture
def committed_tenant(django_db_setup: None, django_db_blocker: Any) -> Iterator[Tenant]:
    """A throwaway tenant whose data is really committed (for parallel connections and
    worker processes); its schema is dropped afterwards."""
    with django_db_blocker.unblock():
        use_public_schema()
        tenant = tenant_create(slug=f"t{uuid.uuid4().hex[:12]}", name="Committed tenant")
        try:
            yield tenant
        finally:
            use_public_schema()
            drop_tenant(tenant)


@pytest.fixture
def notice_drain_held(committed_tenant: Tenant) -> Iterator[None]:
    """As if a notice drain held the committed tenant's marker: its commits kick none, so a worker
    left running by another test does not record their notices before the test looks."""
    from apps.core.redis import redis_client
    from apps.notifications.outbox import marker_key

    marker = marker_key(committed_tenant.schema_name)
    redis_client().set(marker, "1", ex=300)
    yield
    redis_client().delete(marker)


def drop_tenant(tenant: Tenant, attempts: int = 5) -> None:
    """Drop a committed tenant; a deadlock with a worker still finishing an after-commit task
    (a notification being sent) in that schema is retried, never left as a stray tenant."""
    from django.db import OperationalError, connection

    for attempt in range(attempts):
        try:
            tenant.delete(force_drop=True)
            return
        except OperationalError:
            if connection.in_atomic_block or attempt == attempts - 1:
                raise
            connection.close()
            use_public_schema()


# --- Finance personas: clerk, manager, auditor and a role-less staff user in tenant A; an
# outsider (a manager of tenant B). Role groups come from apps.payments.roles (every schema).
@pytest.fixture
def make_staff() -> Any:
    from django.contrib.auth.models import Group, User

    def make(username: str, *roles: str) -> User:
        user = User.objects.create_user(username=username, email=f"{username}@example.test", password=PASSWORD)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.groups.set(Group.objects.filter(name__in=roles))
        return user

    return make


@pytest.fixture
def clerk(in_tenant_a: Tenant, make_staff: Any) -> Any:
    return make_staff("clerk", "Finance Clerk")


@pytest.fixture
def manager(in_tenant_a: Tenant, make_staff: Any) -> Any:
    return make_staff("manager", "Finance Manager")


@pytest.fixture
def auditor(in_tenant_a: Tenant, make_staff: Any) -> Any:
    return make_staff("auditor", "Auditor")


@pytest.fixture
def roleless(in_tenant_a: Tenant, make_staff: Any) -> Any:
    return make_staff("roleless")


@pytest.fixture
def outsider(tenant_b: Tenant, make_staff: Any) -> Any:
    with schema_context(tenant_b.schema_name):
        return make_staff("outsider", "Finance Manager")


@pytest.fixture
def login_a(in_tenant_a: Tenant) -> Any:
    """`login_a(user)`: a client on tenant A's host, logged in as `user` (a user of tenant A)."""

    def login(user: Any) -> Client:
        client = Client(HTTP_HOST=host_of(in_tenant_a))
        client.force_login(user)
        return client

    return login


# --- Events: numbered at the end of each INSERT in rolled-back tests (apps.events) ---------
@pytest.fixture(autouse=True)
def _events_numbered_in_rolled_back_tests(request: pytest.FixtureRequest) -> None:
    """Events are numbered at COMMIT by a deferred constraint trigger (EventSequence), and a
    test in pytest-django's rolled-back transaction never commits: there the trigger is made
    IMMEDIATE (same function, fired at the end of each INSERT), so such tests read numbered
    events. Tests on committed connections (tests/events/test_sequence_concurrency.py) keep
    the real commit-time numbering."""
    uses_db = {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db and request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("db" if "transactional_db" not in request.fixturenames else "transactional_db")
    if not connection.in_atomic_block:  # a transactional test: commits are real
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(quote_ident(n.nspname) || '.' || quote_ident(tg.tgname), ', ')"
            " FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE tg.tgname = 'events_event_number_at_commit'"
        )
        (triggers,) = cursor.fetchone()
        if triggers:
            cursor.execute(f"SET CONSTRAINTS {triggers} IMMEDIATE")
