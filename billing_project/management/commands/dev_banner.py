"""Print what `make run` brought up: URLs, logins, a ready-to-paste curl."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from billing_project.management.commands.seed_demo import DEMO_TENANTS


class Command(BaseCommand):
    help = "Print the dev URLs and logins (dev only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        base = settings.BASE_DOMAIN
        lines = [
            "",
            "DotMac Billing is up (Ctrl-C stops web, worker and beat).",
            f"  operators' admin : http://{base}:{port}/admin/   (admin / admin)",
        ]
        for slug, name, _currency in DEMO_TENANTS:
            lines.append(f"  {name:<17}: http://{slug}.{base}:{port}/admin/   (admin / admin)")
        lines.append("")
        self.stdout.write("\n".join(lines))
