"""Worker and beat liveness: the process keeps its heartbeat file fresh, and the probe the pods
run (the exact command of deploy/k8s/ and docker-compose.yml) passes on a fresh file and fails,
with one readable line, on a stale or missing one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from billing_project.observability import heartbeat
from tests import conftest as root_conftest
from tests.platform.conftest import BASE_DIR
from tests.platform.test_k8s import pod_spec, workloads

PROBE_MODULE = "billing_project.observability.heartbeat"


def probes(name: str) -> dict[str, list[str]]:
    container = pod_spec(workloads()[name])["containers"][0]
    return {kind: container[kind]["exec"]["command"] for kind in ("startupProbe", "livenessProbe")}


def run_probe(command: list[str], heartbeat_file: Path) -> subprocess.CompletedProcess[str]:
    """The probe as the kubelet runs it: the image's `python`, here the venv's interpreter."""
    assert command[0] == "python"
    return subprocess.run(
        [sys.executable, *command[1:]],
        cwd=BASE_DIR,
        env={"PATH": os.environ["PATH"], "CELERY_HEARTBEAT_FILE": str(heartbeat_file)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def make_stale(path: Path, age: float) -> None:
    then = time.time() - age
    os.utime(path, (then, then))


def test_the_probe_defaults_to_the_settings_default_file() -> None:
    assert Path(settings.LOCAL_DIR) / "celery-heartbeat" == heartbeat.DEFAULT_FILE


def test_every_worker_and_beat_pod_has_a_heartbeat_startup_and_liveness_probe() -> None:
    worker_probe = ["python", "-m", PROBE_MODULE, "--max-age", "60"]
    beat_probe = ["python", "-m", PROBE_MODULE, "--beat", "--max-age", "60"]
    names = [name for name in workloads() if name.startswith("billing-worker-")]
    assert len(names) == 3
    for name in names:
        assert probes(name) == {"startupProbe": worker_probe, "livenessProbe": worker_probe}, name
    assert probes("billing-beat") == {"startupProbe": beat_probe, "livenessProbe": beat_probe}
    # The file is on the pod's writable /tmp emptyDir (the root filesystem is read-only).
    configured = yaml.safe_load((BASE_DIR / "deploy" / "k8s" / "configmap.yaml").read_text())["data"]
    assert configured["CELERY_HEARTBEAT_FILE"].startswith("/tmp/")
    # Compose runs the same check as its worker and beat healthchecks.
    services = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())["services"]
    assert services["worker"]["healthcheck"]["test"] == ["CMD", *worker_probe]
    assert services["beat"]["healthcheck"]["test"] == ["CMD", *beat_probe]


@pytest.fixture
def process_env(tmp_path: Path) -> dict[str, str]:
    env = root_conftest.test_database_environment()
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(CELERY_HEARTBEAT_FILE=str(tmp_path / "celery-heartbeat"), CELERY_HEARTBEAT_SECONDS="1")
    return env


def start(arguments: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "billing_project", *arguments],
            cwd=BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def check_fresh_then_stale(process: subprocess.Popen[bytes], path: Path, command: list[str], log: Path) -> None:
    first_seen: list[float] = []

    def touched_again() -> bool:
        assert process.poll() is None, log.read_text()[-3000:]
        if not path.exists():
            return False
        mtime = path.stat().st_mtime
        if not first_seen:
            first_seen.append(mtime)
        return mtime > first_seen[0]

    # The file appears and is touched again (the loop keeps touching it, not only at start-up).
    wait_for(touched_again, f"{path.name} to be touched again")
    fresh = run_probe(command, path.parent / "celery-heartbeat")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert fresh.stdout.startswith("ok ") and fresh.stdout.count("\n") == 1, fresh.stdout
    stop(process)
    make_stale(path, 120)
    stale = run_probe(command, path.parent / "celery-heartbeat")
    assert stale.returncode == 1
    what = "celery beat heartbeat" if "--beat" in command else "celery heartbeat"
    expected = rf"FAIL {what} {re.escape(str(path))}: 1[2-9]\ds old \(limit 60s\)\n"
    assert re.fullmatch(expected, stale.stdout), stale.stdout
    path.unlink()
    missing = run_probe(command, path.parent / "celery-heartbeat")
    assert (missing.returncode, missing.stdout.strip().endswith(": missing")) == (1, True), missing.stdout


@pytest.mark.slow
def test_a_real_worker_keeps_the_probe_passing_and_a_stale_file_fails_it(
    process_env: dict[str, str], tmp_path: Path, django_db_setup: None
) -> None:
    queue = f"heartbeat-{uuid.uuid4().hex[:8]}"  # consumes nothing of the other tests
    log = tmp_path / "worker.log"
    worker = start(
        ["worker", "-Q", queue, "-c", "1", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        process_env,
        log,
    )
    try:
        path = Path(process_env["CELERY_HEARTBEAT_FILE"])
        check_fresh_then_stale(worker, path, probes("billing-worker-webhooks")["livenessProbe"], log)
    finally:
        stop(worker)


@pytest.fixture
def beat_broker_cleanup() -> Iterator[None]:
    """Beat may send a due periodic task while it runs: nothing is left queued for other tests."""
    yield
    from billing_project.celery import app

    app.control.purge()


@pytest.mark.slow
def test_real_beat_keeps_its_probe_passing_and_a_stale_file_fails_it(
    process_env: dict[str, str], tmp_path: Path, django_db_setup: None, beat_broker_cleanup: Any
) -> None:
    log = tmp_path / "beat.log"
    beat = start(
        ["beat", "--max-interval", "1", "--pidfile", str(tmp_path / "beat.pid"), "--loglevel", "INFO"],
        process_env,
        log,
    )
    try:
        path = heartbeat.beat_file(process_env["CELERY_HEARTBEAT_FILE"])
        assert path.name == "celery-heartbeat-beat"
        check_fresh_then_stale(beat, path, probes("billing-beat")["livenessProbe"], log)
    finally:
        stop(beat)
