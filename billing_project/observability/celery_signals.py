"""Celery instrumentation: task metrics, the sent-time header, process bookkeeping, heartbeat.

Connected when billing_project.celery is imported (web and worker alike: the web publishes).
Task runs are counted once, in `task_postrun`, by the state the task ended in; the queue is
the routing key (each queue has its own, billing_project.celery).
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import bootsteps
from celery.signals import (
    before_task_publish,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
)

from apps.core.metrics import (
    CELERY_TASK_DURATION,
    CELERY_TASKS,
    CELERY_TASKS_IN_PROGRESS,
    CELERY_TASKS_PUBLISHED,
    PROCESS_UP,
)
from billing_project.observability.multiproc import mark_process_dead
from billing_project.observability.queues import SENT_AT_HEADER

OUTCOMES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}
_STARTED = "_billing_started_at"


def queue_of(task: Any) -> str:
    delivery_info = getattr(task.request, "delivery_info", None) or {}
    return str(delivery_info.get("routing_key") or delivery_info.get("queue") or "none")


@before_task_publish.connect(dispatch_uid="observability.before_task_publish")
def stamp_sent_at(
    sender: str | None = None, headers: dict[str, Any] | None = None, routing_key: str | None = None, **kwargs: Any
) -> None:
    """Add the sent time (the queue collector reads the oldest message's) and count the publish."""
    if headers is not None:
        headers[SENT_AT_HEADER] = time.time()
    CELERY_TASKS_PUBLISHED.labels(task=str(sender), queue=str(routing_key or "none")).inc()


@task_prerun.connect(dispatch_uid="observability.task_prerun")
def task_started(task: Any = None, **kwargs: Any) -> None:
    if task is None:
        return
    setattr(task.request, _STARTED, time.perf_counter())
    CELERY_TASKS_IN_PROGRESS.labels(queue=queue_of(task)).inc()


@task_postrun.connect(dispatch_uid="observability.task_postrun")
def task_finished(task: Any = None, state: str | None = None, **kwargs: Any) -> None:
    if task is None:
        return
    queue = queue_of(task)
    started = getattr(task.request, _STARTED, None)
    if started is not None:
        CELERY_TASK_DURATION.labels(task=task.name, queue=queue).observe(time.perf_counter() - started)
        CELERY_TASKS_IN_PROGRESS.labels(queue=queue).dec()
    outcome = OUTCOMES.get(state or "", "failed")
    CELERY_TASKS.labels(task=task.name, queue=queue, outcome=outcome).inc()


@worker_process_init.connect(dispatch_uid="observability.worker_process_init")
def child_started(**kwargs: Any) -> None:
    PROCESS_UP.labels(kind="worker").set(1)


@worker_process_shutdown.connect(dispatch_uid="observability.worker_process_shutdown")
def child_stopped(pid: int | None = None, **kwargs: Any) -> None:
    # May not fire (kill -9): /metrics also sweeps files of PIDs that no longer exist.
    mark_process_dead(pid or os.getpid())


def touch_heartbeat(path: str | os.PathLike[str]) -> None:
    # Imported here: `python -m billing_project.observability.heartbeat` (the probe) imports
    # this module through billing_project's Celery app before it runs as __main__.
    from billing_project.observability import heartbeat

    heartbeat.touch(path)


@worker_ready.connect(dispatch_uid="observability.worker_ready")
def first_heartbeat(**kwargs: Any) -> None:
    from django.conf import settings

    touch_heartbeat(settings.CELERY_HEARTBEAT_FILE)


class HeartbeatStep(bootsteps.StartStopStep):
    """Touch CELERY_HEARTBEAT_FILE from the worker's own timer: a wedged worker stops touching it.

    Liveness probe: the file's mtime is recent (`python -m billing_project.observability.heartbeat`,
    or `manage.py health --worker`), never `celery inspect ping`.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        from django.conf import settings

        path, interval = settings.CELERY_HEARTBEAT_FILE, settings.CELERY_HEARTBEAT_SECONDS
        touch_heartbeat(path)
        self.tref = worker.timer.call_repeatedly(interval, touch_heartbeat, (path,), priority=10)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
