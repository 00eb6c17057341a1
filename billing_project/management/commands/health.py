"""`manage.py health`: the readiness checks for an operator (exit 1 when one fails).

`--worker` checks the Celery heartbeat file instead (a worker liveness probe).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from billing_project.observability.health import run_checks


class Command(BaseCommand):
    help = "Run the readiness checks (database, Redis, broker, migrations, outbox); exit 1 if any fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--worker", action="store_true", help="check the Celery heartbeat file's age instead")
        parser.add_argument("--max-age", type=float, default=60.0, help="heartbeat age limit in seconds (--worker)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["worker"]:
            path = Path(settings.CELERY_HEARTBEAT_FILE)
            age = time.time() - path.stat().st_mtime if path.exists() else None
            if age is None or age > options["max_age"]:
                self.stdout.write(f"FAIL celery heartbeat {path}: " + ("missing" if age is None else f"{age:.0f}s old"))
                sys.exit(1)
            self.stdout.write(f"ok   celery heartbeat {age:.0f}s old")
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
