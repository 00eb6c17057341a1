"""Dunning fixtures: a second committed tenant, and worker processes a test may kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apps.core.tenancy import use_public_schema
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_create
from tests.conftest import BASE_DIR, drop_tenant, test_database_environment


@pytest.fixture
def second_committed_tenant(django_db_setup: None, django_db_blocker: Any) -> Iterator[Tenant]:
    with django_db_blocker.unblock():
        use_public_schema()
        tenant = tenant_create(slug=f"t{uuid.uuid4().hex[:12]}", name="Second committed tenant")
        try:
            yield tenant
        finally:
            use_public_schema()
            drop_tenant(tenant)


class Worker:
    """A Celery worker (prefork) in its own process group, so a test can SIGKILL all of it."""

    def __init__(self, name: str, concurrency: int = 2) -> None:
        self.name = f"{name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.log = BASE_DIR / ".local" / f"test-{name}.log"
        self.log.parent.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "billing_project", "worker", "-Q", "dunning", "-c", str(concurrency),
             "--hostname", f"{self.name}@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=BASE_DIR, env=test_database_environment(), stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        from billing_project.celery import app

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker died; see {self.log}")
            if app.control.ping(destination=[f"{self.name}@{os.uname().nodename}"], timeout=1.0):
                return
        self.kill()
        raise RuntimeError(f"worker never answered; see {self.log}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once (no warm shutdown, no ack)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker() -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(name: str, concurrency: int = 2) -> Worker:
        worker = Worker(name, concurrency)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(condition: Callable[[], Any], *, timeout: float = 120, what: str = "condition") -> Any:
    """Poll `condition` until it is truthy (a deadline, not a sleep as synchronisation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
