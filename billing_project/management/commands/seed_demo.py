"""`manage.py seed_demo`: the demo tenants with their staff (dev only). Idempotent."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.core.tenancy import use_public_schema
from apps.tenants.models import Tenant
from apps.tenants.services import StaffUser, tenant_create

DEMO_TENANTS = [
    ("acme", "Acme Fibre", "NGN"),
    ("globex", "Globex Broadband", "USD"),
]
DEMO_PASSWORD = "admin"  # noqa: S105 - dev only; refused in production below


class Command(BaseCommand):
    help = "Create the demo tenants acme and globex with staff admin/admin (dev only; safe to rerun)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("seed_demo creates admin/admin logins and is refused in production")
        use_public_schema()
        user_model = get_user_model()
        if not user_model.objects.filter(username="admin").exists():
            user_model.objects.create_superuser("admin", "operator@localhost", DEMO_PASSWORD)
        for slug, name, currency in DEMO_TENANTS:
            if Tenant.objects.filter(schema_name=slug).exists():
                self.stdout.write(f"{slug}: already there")
                continue
            tenant_create(
                slug=slug,
                name=name,
                default_currency=currency,
                staff=StaffUser("admin", f"admin@{slug}.example", DEMO_PASSWORD),
            )
            self.stdout.write(self.style.SUCCESS(f"{slug}: created"))
