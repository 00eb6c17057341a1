"""`manage.py platform_token --tenant acme --roles billing.admin`: a dev platform token (never in production)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.api.principal import Role
from apps.tenants.api.tokens import mint_platform_token


class Command(BaseCommand):
    help = "Print a platform token (HS256, PLATFORM_JWT_SECRET) for trying the API in dev. Refused in production."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug (the token's tenant claim)")
        parser.add_argument(
            "--roles",
            nargs="+",
            default=[Role.BILLING_ADMIN.value],
            help=f"roles, space or comma separated: {', '.join(role.value for role in Role)}",
        )
        parser.add_argument("--sub", default="dev-user", help="the platform user (sub claim)")
        parser.add_argument(
            "--lifetime", type=int, default=None, help="seconds until expiry (default PLATFORM_JWT_MAX_LIFETIME)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("platform_token is a dev tool and is refused in production")
        roles = [role.strip() for value in options["roles"] for role in value.split(",") if role.strip()]
        unknown = sorted(set(roles) - {role.value for role in Role})
        if unknown:
            raise CommandError(f"unknown role(s) {', '.join(unknown)}; use {', '.join(role.value for role in Role)}")
        try:
            token = mint_platform_token(
                tenant=options["tenant"], roles=roles, sub=options["sub"], lifetime=options["lifetime"]
            )
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(token)
