"""The Celery app: tenant-aware (tenant-schemas-celery), one queue per kind of work."""

from __future__ import annotations

import os

from kombu import Queue
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")

# A worker consuming several queues takes from them in this order: urgent notices first.
QUEUES = ("notifications-high", "webhooks", "dunning", "notifications", "default")

app = CeleryApp("billing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.autodiscover_tasks()
