"""`manage.py seed_demo`: the demo tenants with their staff (dev only). Idempotent."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.accounts.models import BillingSettings
from apps.core.tenancy import use_public_schema
from apps.tenants.models import Tenant
from apps.tenants.services import StaffUser, tenant_create
from billing_project.demo import seed_tenant_demo

DEMO_TENANTS = [
    ("acme", "Acme Fibre", "NGN"),
    ("globex", "Globex Broadband", "USD"),
]
DEMO_PASSWORD = "admin"  # noqa: S105 - dev only; refused in production below


class Command(BaseCommand):
    help = "Create the demo tenants acme and globex with staff admin/admin (dev only; safe to rerun)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=200, help="accounts per demo tenant")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("seed_demo creates admin/admin logins and is refused in production")
        use_public_schema()
        user_model = get_user_model()
        if not user_model.objects.filter(username="admin").exists():
            user_model.objects.create_superuser("admin", "operator@localhost", DEMO_PASSWORD)
        for slug, name, currency in DEMO_TENANTS:
            if not Tenant.objects.filter(schema_name=slug).exists():
                tenant_create(
                    slug=slug,
                    name=name,
                    default_currency=currency,
                    staff=StaffUser("admin", f"admin@{slug}.example", DEMO_PASSWORD),
                )
                self.stdout.write(f"{slug}: tenant created")
            started = time.perf_counter()
            with schema_context(slug):
                billing = BillingSettings.load()
                if not billing.company_name:
                    billing.company_name = name
                    billing.company_address = "12 Marina Road\nLagos, Nigeria" if currency == "NGN" else "1 Main St"
                    billing.save()
                counts = seed_tenant_demo(slug=slug, default_currency=currency, accounts=options["accounts"])
            if counts["accounts"]:
                summary = ", ".join(f"{value} {key}" for key, value in counts.items())
                self.stdout.write(self.style.SUCCESS(f"{slug}: {summary} in {time.perf_counter() - started:.1f}s"))
            else:
                self.stdout.write(f"{slug}: demo data already there")
