"""gunicorn settings: `gunicorn billing_project.wsgi -c python:billing_project.gunicorn_conf`.

Binding and worker count come from the command line (the Procfile honours $PORT and
$WEB_CONCURRENCY). The hooks keep Prometheus' multiprocess files right: a worker that exits
(or is killed) has its live gauges removed by the master; its counters stay.
"""

from __future__ import annotations

from typing import Any

# Request logs come from django-structlog (JSON, with request_id and tenant), not gunicorn.
accesslog = None
# Heartbeat files on tmpfs: a worker is never killed for a slow disk.
worker_tmp_dir = "/dev/shm"  # noqa: S108


def post_fork(server: Any, worker: Any) -> None:
    # Imported here, in the worker: the master must not create metric files of its own.
    from apps.core.metrics import PROCESS_UP

    PROCESS_UP.labels(kind="web").set(1)


def child_exit(server: Any, worker: Any) -> None:
    from billing_project.observability.multiproc import mark_process_dead

    mark_process_dead(worker.pid)
