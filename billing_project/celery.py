"""The Celery app: tenant-aware (tenant-schemas-celery), one queue per kind of work."""

from __future__ import annotations

import os

from kombu import Exchange, Queue
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")

# A worker consuming several queues takes from them in this order: urgent notices first.
QUEUES = ("notifications-high", "webhooks", "dunning", "notifications", "default")

app = CeleryApp("billing")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue gets its own routing key: with the default key they would all share one binding.
app.conf.task_queues = [Queue(name, Exchange(name), routing_key=name) for name in QUEUES]
app.autodiscover_tasks()

# Observability: task metrics, the queue sent-time header, heartbeat, structured task logs.
from django_structlog.celery.steps import DjangoStructLogInitStep  # noqa: E402

from billing_project.observability import celery_signals  # noqa: E402

app.steps["worker"].add(DjangoStructLogInitStep)
app.steps["worker"].add(celery_signals.HeartbeatStep)
