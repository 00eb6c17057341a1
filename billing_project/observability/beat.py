"""Celery beat's scheduler with a liveness heartbeat (CELERY_BEAT_SCHEDULER names it).

django-celery-beat's DatabaseScheduler (schedules in the database, editable in the admin),
touching `<CELERY_HEARTBEAT_FILE>-beat` on every tick: beat's loop ticks at least every
`max_interval` (5 s), so a file older than a minute means beat is wedged (a hung database
call, a dead loop) and the probe `python -m billing_project.observability.heartbeat --beat`
fails. The file is touched before the tick's work, so a slow tick shows as a stale file only
once it has run longer than the probe's limit.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

from billing_project.observability import heartbeat


class HeartbeatScheduler(DatabaseScheduler):
    def tick(self, *args: Any, **kwargs: Any) -> float:
        heartbeat.touch(heartbeat.beat_file(settings.CELERY_HEARTBEAT_FILE))
        return float(super().tick(*args, **kwargs))
