"""Tax rates: configuration the finance manager keeps (the default rate prefills new lines)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.invoices.models import TaxRate


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin[TaxRate]):
    list_display = ["name", "percentage", "inclusive", "is_default", "active"]
    list_filter = ["active", "inclusive"]
    search_fields = ["name"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # lines keep a reference; deactivate a rate instead

    def get_readonly_fields(self, request: HttpRequest, obj: TaxRate | None = None) -> Any:
        # Issued invoices froze their tax; a used rate's percentage and kind stay as issued.
        return ["percentage", "inclusive"] if obj is not None else []
