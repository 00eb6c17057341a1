"""The real deployment shape: the Procfile's web line (gunicorn, WEB_CONCURRENCY=4) and a Celery
worker at concurrency 2 sharing one metrics root. Every scrape, whichever worker answers it,
shows the exact counts of the whole deployment; killed processes keep their counters and drop
their live gauges; logs are JSON lines carrying request id, tenant and task id."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from apps.core.tenancy import use_public_schema, use_tenant
from apps.payments.models import Payment, PaymentStatus
from apps.payments.tasks import charge_saved_method
from apps.tenants.models import Tenant
from billing_project.celery import app as celery_app
from tests import conftest as shared
from tests.accounts.factories import AccountFactory
from tests.api.conftest import token
from tests.invoices.factories import open_invoice
from tests.observability.scrape import Samples, parse, series, total, value
from tests.payments.fake_stripe import FakeStripe
from tests.payments.test_charges import card_on_file

pytestmark = pytest.mark.slow

METRICS_TOKEN = "multiprocess-scrape-token"
API_CALLS = 12
PAYMENTS = 6
SCRAPES = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    """Poll `condition` until it returns something truthy (a deadline, not a sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def procfile_line(role: str) -> str:
    for line in (shared.BASE_DIR / "Procfile").read_text().splitlines():
        if line.startswith(f"{role}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {role} line in the Procfile")


class Deployment:
    def __init__(self, root: Path, stripe: FakeStripe, queue: str) -> None:
        self.port = free_port()
        self.queue = queue
        self.hostname = f"obs-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.web_log = root / "web.log"
        self.worker_log = root / "worker.log"
        env = shared.test_database_environment()
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            PORT=str(self.port),
            WEB_CONCURRENCY="4",
            METRICS_MULTIPROC_ROOT=str(root / "metrics"),
            METRICS_TOKEN=METRICS_TOKEN,
            METRICS_CACHE_SECONDS="1",
            LOG_FORMAT="json",
            STRIPE_API_KEY=stripe.api_key,
            STRIPE_API_BASE=stripe.url,
            STRIPE_MAX_NETWORK_RETRIES="0",
            CELERY_HEARTBEAT_FILE=str(root / "heartbeat"),
            CELERY_HEARTBEAT_SECONDS="1",
        )
        self.env = env
        self.web = self._start(procfile_line("web"), self.web_log)
        worker = (
            f"{sys.executable} -m billing_project.observability.multiproc worker -- "
            f"{sys.executable} -m celery -A billing_project worker -Q {queue} -c 2 --hostname {self.hostname} "
            "--without-gossip --without-mingle --loglevel INFO"
        )
        self.worker = self._start(worker, self.worker_log)

    def _start(self, command: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as output:
            return subprocess.Popen(
                ["/bin/sh", "-c", command],
                cwd=shared.BASE_DIR,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(self.url(path), headers={"Host": "localhost", **headers}, timeout=30)

    def scrape(self) -> Samples:
        response = self.get("/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
        assert response.status_code == 200, response.text
        return parse(response.text)

    def wait_until_up(self) -> None:
        def web_up() -> bool:
            assert self.web.poll() is None, self.web_log.read_text()[-3000:]
            try:
                return self.get("/health/live").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(web_up, "gunicorn to answer")
        # All four workers have forked and registered (their live gauge), not just the first.
        wait_for(lambda: len(series(self.scrape(), "billing_process_up")) >= 4, "four web workers")

        def worker_up() -> bool:
            assert self.worker.poll() is None, self.worker_log.read_text()[-3000:]
            return bool(celery_app.control.ping(destination=[self.hostname], timeout=0.5))

        wait_for(worker_up, "the celery worker to answer")

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in (self.web, self.worker):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    stripe = FakeStripe(api_key="sk_test_multiprocess").start()
    deployment = Deployment(tmp_path, stripe, queue=f"obs-{uuid.uuid4().hex[:8]}")
    try:
        deployment.wait_until_up()
        yield deployment
    finally:
        deployment.stop()
        stripe.stop()


def query_prometheus(port: int, promql: str) -> float | None:
    response = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": promql}, timeout=10)
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def real_prometheus_reads(deployment: Deployment, tmp: Path, queries: dict[str, float]) -> None:
    """Start the real Prometheus binary against the running app; read values through its query API."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus missing: `make system-deps` installs Debian's prometheus package"
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "billing",
                        "authorization": {"type": "Bearer", "credentials": METRICS_TOKEN},
                        "static_configs": [{"targets": [f"127.0.0.1:{deployment.port}"]}],
                    }
                ],
            }
        )
    )
    log = tmp / "prometheus.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:

        def answered() -> bool:
            assert process.poll() is None, log.read_text()[-2000:]
            try:
                return all(query_prometheus(port, promql) == expected for promql, expected in queries.items())
            except (httpx.TransportError, KeyError, ValueError):
                return False

        wait_for(answered, f"Prometheus to scrape {queries}", timeout=60)
        assert query_prometheus(port, 'up{job="billing"}') == 1.0
    finally:
        process.terminate()
        process.wait(timeout=30)


def process_pids(samples: Samples, kind: str) -> set[int]:
    return {int(labels["pid"]) for labels in series(samples, "billing_process_up") if labels["kind"] == kind}


def json_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in log.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_counts_are_exact_across_four_web_workers_and_two_celery_children(
    committed_tenant: Tenant, deployment: Deployment, tmp_path: Path
) -> None:
    slug = committed_tenant.schema_name
    # K payments, each a task that charges a saved card through Stripe (the local fake).
    use_tenant(committed_tenant)
    # One account each: charges of one account are serialised into one attempt by design.
    accounts = [AccountFactory(currency="NGN", email=f"ada.obi{index}@example.com") for index in range(PAYMENTS)]
    invoices = []
    for account in accounts:
        card_on_file(account)
        invoices.append(open_invoice(account, "100.00"))
    structlog.contextvars.bind_contextvars(request_id="req-from-the-api")
    try:
        results = [
            charge_saved_method.apply_async(args=[str(invoice.account_id), str(invoice.pk)], queue=deployment.queue)
            for invoice in invoices
        ]
    finally:
        structlog.contextvars.clear_contextvars()
    use_public_schema()

    # N API calls, spread by gunicorn over its workers.
    credential = {"Authorization": f"Bearer {token(tenant=slug, sub='sre-test')}"}
    for index in range(API_CALLS):
        response = deployment.get("/api/v1/accounts/", **credential, **{"X-Request-ID": f"abc-{index}"})
        assert response.status_code == 200, response.text
        assert response.headers["X-Request-ID"] == f"abc-{index}"
    for result in results:
        assert result.get(timeout=120)["status"] == "succeeded"
    use_tenant(committed_tenant)
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED, gateway="stripe").count() == PAYMENTS
    use_public_schema()

    route = {"route": "/api/v1/accounts/", "method": "GET", "status": "2xx", "api_version": "v1"}
    task = {"task": "apps.payments.charge_saved_method", "queue": deployment.queue}
    web_pids: set[int] = set()  # every worker registered its live gauge
    for _ in range(SCRAPES):
        samples = deployment.scrape()
        assert value(samples, "billing_http_requests_total", **route) == API_CALLS
        assert value(samples, "billing_http_request_duration_seconds_count", **route) == API_CALLS
        assert total(samples, "billing_payments_total", gateway="stripe", outcome="succeeded") == PAYMENTS
        assert total(samples, "billing_payment_amount_total", currency="NGN") == 100.0 * PAYMENTS
        assert value(samples, "billing_celery_tasks_total", outcome="succeeded", **task) == PAYMENTS
        assert value(samples, "billing_celery_task_duration_seconds_count", **task) == PAYMENTS
        assert value(samples, "billing_external_requests_total", service="stripe", outcome="success") == PAYMENTS
        assert value(samples, "billing_http_requests_in_progress") == 1  # this scrape
        web_pids |= process_pids(samples, "web")
    assert len(web_pids) == 4

    # kill -9 a gunicorn worker and a Celery child: counters stay, their live gauges go.
    before = deployment.scrape()
    web_victim = min(process_pids(before, "web"))
    worker_victim = min(process_pids(before, "worker"))
    assert len(process_pids(before, "worker")) == 2
    os.kill(web_victim, signal.SIGKILL)
    os.kill(worker_victim, signal.SIGKILL)

    def victims_gone() -> Samples | None:
        samples = deployment.scrape()
        web, worker = process_pids(samples, "web"), process_pids(samples, "worker")
        replaced = len(web) == 4 and len(worker) == 2
        return samples if replaced and web_victim not in web and worker_victim not in worker else None

    after = wait_for(victims_gone, "the killed processes' live gauges to go and replacements to start")
    assert value(after, "billing_http_requests_total", **route) == API_CALLS
    assert total(after, "billing_payments_total", gateway="stripe", outcome="succeeded") == PAYMENTS
    assert value(after, "billing_celery_tasks_total", outcome="succeeded", **task) == PAYMENTS
    for labels in series(after, "billing_process_up"):
        assert int(labels["pid"]) not in {web_victim, worker_victim}

    # The scrape is valid exposition format.
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make system-deps` installs Debian's prometheus package"
    text = deployment.get("/metrics", Authorization=f"Bearer {METRICS_TOKEN}").content
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # Logs: JSON lines; every line of request abc-N carries it and the tenant; tasks carry the
    # request id that enqueued them, their task id and tenant; no full email anywhere.
    web_lines = json_lines(deployment.web_log)
    for index in range(API_CALLS):
        lines = [line for line in web_lines if line.get("request_id") == f"abc-{index}"]
        finished = [line for line in lines if line["event"] == "request_finished"]
        assert len(finished) == 1, lines
        assert finished[0]["tenant"] == slug
    worker_lines = json_lines(deployment.worker_log)
    task_ids = {result.id for result in results}
    started = [line for line in worker_lines if line["event"] == "task_started"]
    assert {line["task_id"] for line in started} >= task_ids
    for line in started:
        if line["task_id"] in task_ids:
            assert (line["request_id"], line["tenant"]) == ("req-from-the-api", slug)
    for log in (deployment.web_log, deployment.worker_log):
        assert "ada.obi0@example.com" not in log.read_text()
    # The real Prometheus reads the same numbers through its own query API.
    real_prometheus_reads(
        deployment,
        tmp_path,
        {
            'sum(billing_payments_total{gateway="stripe",outcome="succeeded"})': float(PAYMENTS),
            'sum(billing_http_requests_total{route="/api/v1/accounts/",status="2xx"})': float(API_CALLS),
        },
    )

    # The worker's liveness heartbeat is being touched.
    assert time.time() - Path(deployment.env["CELERY_HEARTBEAT_FILE"]).stat().st_mtime < 30
