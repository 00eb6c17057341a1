"""`manage.py prune_idempotency_records`: drop stored idempotent responses past their retention."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.core.tenancy import use_public_schema
from apps.tenants.services import idempotency_records_prune, idempotency_retention


class Command(BaseCommand):
    help = "Delete stored Idempotency-Key responses older than IDEMPOTENCY_KEY_RETENTION_HOURS (at least 24 h)."

    def handle(self, *args: Any, **options: Any) -> None:
        use_public_schema()
        deleted = idempotency_records_prune()
        hours = int(idempotency_retention().total_seconds() // 3600)
        self.stdout.write(f"pruned {deleted} idempotency record(s) older than {hours} h")
