"""`manage.py provision_tenant acme --name "Acme ISP" --staff-email ...`: tenant, host, first staff user."""

from __future__ import annotations

import os
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.tenants.exceptions import TenantError
from apps.tenants.services import StaffUser, tenant_create, tenant_host


class Command(BaseCommand):
    help = "Create a tenant (schema cloned from the template), its host and its first staff user, in one step."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="lowercase slug, also the schema name and host prefix")
        parser.add_argument("--name", required=True)
        parser.add_argument("--staff-username", default="admin")
        parser.add_argument("--staff-email", required=True)
        parser.add_argument(
            "--staff-password",
            default=None,
            help="defaults to $TENANT_STAFF_PASSWORD; never put real passwords on a command line",
        )
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--currency", default="USD")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["staff_password"] or os.environ.get("TENANT_STAFF_PASSWORD")
        if not password:
            raise CommandError("give --staff-password or set TENANT_STAFF_PASSWORD")
        started = time.perf_counter()
        try:
            tenant = tenant_create(
                slug=options["slug"],
                name=options["name"],
                staff=StaffUser(options["staff_username"], options["staff_email"], password),
                timezone_name=options["timezone"],
                default_currency=options["currency"],
            )
        except TenantError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"created tenant {tenant.schema_name} at {tenant_host(tenant.schema_name)} "
                f"with staff user {options['staff_username']} in {elapsed:.2f}s"
            )
        )
