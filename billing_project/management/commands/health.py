"""`manage.py health`: the readiness checks for an operator (exit 1 when one fails).

`--worker` checks the Celery worker's heartbeat file instead, `--beat` beat's (the same check
as the pods' liveness probe `python -m billing_project.observability.heartbeat`, which starts
faster because it does not set up Django).
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from billing_project.observability import heartbeat
from billing_project.observability.health import run_checks


class Command(BaseCommand):
    help = "Run the readiness checks (database, Redis, broker, migrations, outbox); exit 1 if any fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--worker", action="store_true", help="check the Celery heartbeat file's age instead")
        parser.add_argument("--beat", action="store_true", help="check Celery beat's heartbeat file's age instead")
        parser.add_argument(
            "--max-age",
            type=float,
            default=heartbeat.DEFAULT_MAX_AGE,
            help="heartbeat age limit in seconds (--worker, --beat)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["worker"] or options["beat"]:
            path = settings.CELERY_HEARTBEAT_FILE
            if options["beat"]:
                ok, line = heartbeat.check(heartbeat.beat_file(path), options["max_age"], "celery beat heartbeat")
            else:
                ok, line = heartbeat.check(path, options["max_age"])
            self.stdout.write(line)
            if not ok:
                sys.exit(1)
            return
        results = run_checks()
        for result in results:
            status = "ok  " if result.ok else "FAIL"
            detail = f"  {result.detail}" if result.detail else ""
            self.stdout.write(f"{status} {result.name:<11} {result.seconds * 1000:7.1f} ms{detail}")
        failed = [result.name for result in results if not result.ok]
        if failed:
            self.stdout.write(f"not ready: {', '.join(failed)} failed")
            sys.exit(1)
        self.stdout.write("ready")
