"""`manage.py monitoring_catalogue [--write]`: the metrics and alerts tables of the guide.

Prints them (Markdown), or with `--write` rewrites the generated block of
docs/PLATFORM_INTEGRATION.md's Monitoring section. Reads the database and Redis (the
scrape-time collectors run once).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from billing_project.observability import catalogue


class Command(BaseCommand):
    help = "Print (or --write into docs/PLATFORM_INTEGRATION.md) the metrics and alerts catalogue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--write", action="store_true", help="rewrite the guide's generated block")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["write"]:
            self.stdout.write(catalogue.markdown())
            return
        changed = catalogue.write()
        self.stdout.write(f"{catalogue.GUIDE.name}: " + ("catalogue updated" if changed else "catalogue unchanged"))
