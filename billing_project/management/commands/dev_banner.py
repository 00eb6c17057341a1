"""Print what `make run` brought up: URLs, logins, a ready-to-paste curl."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.urls import NoReverseMatch, reverse

from apps.tenants.api.tokens import mint_platform_token
from billing_project.management.commands.seed_demo import DEMO_TENANTS


def _api_path() -> str:
    """An authenticated list once the ledger's API is there, else the version endpoint."""
    try:
        return reverse("api:account-list", urlconf=settings.PUBLIC_SCHEMA_URLCONF)
    except NoReverseMatch:
        return reverse("api:version", urlconf=settings.PUBLIC_SCHEMA_URLCONF)


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
        lines.append(f"  API docs         : http://{base}:{port}/api/v1/docs/")
        if not settings.IS_PRODUCTION:
            slug = DEMO_TENANTS[0][0]
            token = mint_platform_token(tenant=slug, roles=["billing.admin"], sub="dev-user")
            minutes = int(settings.PLATFORM_JWT_MAX_LIFETIME) // 60
            lines += [
                f"  try the API ({slug}, billing.admin; the token lasts {minutes} min):",
                f'    curl -H "Authorization: Bearer {token}" http://{base}:{port}{_api_path()}',
                f"  a fresh token    : .venv/bin/python manage.py platform_token --tenant {slug} --roles billing.admin",
            ]
        lines.append("")
        self.stdout.write("\n".join(lines))
