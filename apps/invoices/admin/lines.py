"""Invoice lines in the invoice's form: editable while it is a draft, saved by the service."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from apps.core.admin_support import has_perm, money_html
from apps.invoices.admin.forms import InvoiceLineForm
from apps.invoices.models import Invoice, InvoiceLine, TaxRate


class InvoiceLineInline(admin.TabularInline[InvoiceLine, Invoice]):
    """Lines, editable while the invoice is a draft; the service replaces them on save.

    New lines start with the tenant's default tax rate.
    """

    model = InvoiceLine
    form = InvoiceLineForm
    fields = ["description", "quantity", "unit_price", "discount", "tax_rate", "net", "tax", "line_total"]
    readonly_fields = ["net", "tax", "line_total"]
    extra = 1

    def get_queryset(self, request: HttpRequest) -> QuerySet[InvoiceLine]:
        return super().get_queryset(request).select_related("invoice", "tax_rate")

    def get_extra(self, request: HttpRequest, obj: Invoice | None = None, **kwargs: Any) -> int:
        return 3 if obj is None else 1

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "tax_rate":
            kwargs["queryset"] = TaxRate.objects.filter(active=True)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "tax_rate" and field is not None:
            # Evaluate the choices once per request, not once per line form.
            field.choices = list(cast(Iterable[Any], field.choices))
        return field

    def _editable(self, request: HttpRequest, obj: Invoice | None) -> bool:
        if obj is None:
            return has_perm(request, "invoices.add_invoice")
        return obj.is_draft and has_perm(request, "invoices.change_invoice")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_perm(request, "invoices.view_invoice")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    @admin.display(description="net")
    def net(self, line: InvoiceLine) -> SafeString | str:
        return money_html(line.net_amount, line.invoice.currency) if line.pk else "-"

    @admin.display(description="tax")
    def tax(self, line: InvoiceLine) -> SafeString | str:
        return money_html(line.tax_amount, line.invoice.currency) if line.pk else "-"

    @admin.display(description="total")
    def line_total(self, line: InvoiceLine) -> SafeString | str:
        return money_html(line.total, line.invoice.currency) if line.pk else "-"
