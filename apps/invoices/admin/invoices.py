"""The invoice admin: a fast changelist, draft editing through the services, per-invoice actions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import construct_change_message
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.accounts.admin import AccountFilter, CurrencyFilter, account_link
from apps.core.admin_support import (
    AuditedAdmin,
    DateRangeFilter,
    FastChangeListMixin,
    ServiceFormAdmin,
    admin_page,
    adopt_saved,
    autocomplete_for,
    badge,
    bounded_selection,
    has_perm,
    money_html,
    refusals_as_form_errors,
    run_bulk_action,
    run_per_object,
    small_table,
)
from apps.core.errors import DomainError
from apps.core.tenancy import tenant_today
from apps.invoices.admin.exports import invoice_csv_response, invoice_pdf_zip_response
from apps.invoices.admin.filters import OverdueBucketFilter, document_search
from apps.invoices.admin.forms import InvoiceForm, ReasonForm, lines_from_formsets
from apps.invoices.admin.lines import InvoiceLineInline
from apps.invoices.credit_notes import CREDITABLE
from apps.invoices.models import Invoice, InvoiceStatus, TaxRate
from apps.invoices.services import (
    invoice_create,
    invoice_delete_draft,
    invoice_finalize,
    invoice_mark_sent,
    invoice_mark_uncollectible,
    invoice_update_draft,
    invoice_void,
)


@admin.register(Invoice)
class InvoiceAdmin(FastChangeListMixin, ServiceFormAdmin[Invoice], AuditedAdmin):
    form = InvoiceForm
    inlines = [InvoiceLineInline]
    list_display = [
        "number_column",
        "account_column",
        "status_badge",
        "total_column",
        "amount_due_column",
        "issue_date",
        "due_date",
        "days_overdue_column",
    ]
    list_display_links = ["number_column"]
    list_select_related = ["account"]
    list_filter = ["status", OverdueBucketFilter, ("due_date", DateRangeFilter), CurrencyFilter, AccountFilter]
    # Matches the index invoice_created_id (-created_at, id): the first page is an index scan.
    ordering = ["-created_at", "id"]
    search_fields = ["number"]  # see get_search_results
    search_help_text = "Invoice number, external id, or account number / name."
    autocomplete_fields = ["account"]
    actions = [
        "finalize_invoices",
        "send_invoices",
        "void_invoices",
        "write_off_invoices",
        "export_csv",
        "download_pdfs",
    ]
    change_form_template = "admin/invoices/invoice/change_form.html"
    summary_fields = [
        "number",
        "account_link_display",
        "status_badge",
        "currency",
        "issue_date",
        "due_date",
        "days_overdue_column",
        "subtotal_display",
        "tax_display",
        "total_column",
        "amount_paid_display",
        "amount_credited_display",
        "amount_due_column",
        "status_reason",
        "finalized_at",
        "sent_at",
        "paid_at",
        "voided_at",
        "marked_uncollectible_at",
        "memo",
        "payments_display",
        "credit_notes_display",
    ]

    # --- permissions: finalized invoices are read-only ------------------------------------
    def has_change_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        if obj is not None and not obj.is_draft:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        if obj is not None and not obj.is_draft:
            return False
        return super().has_delete_permission(request, obj)

    def has_finalize_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "invoices.finalize_invoice")

    def has_void_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "invoices.void_invoice")

    def has_write_off_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "invoices.write_off_invoice")

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # drafts are deleted one by one, through the service
        return actions

    # --- the form ---------------------------------------------------------------------------
    def get_fields(self, request: HttpRequest, obj: Invoice | None = None) -> Any:
        if obj is None:
            return ["account", "due_date", "memo"]
        if obj.is_draft:
            return ["account_link_display", "status_badge", "currency", "due_date", "memo", "total_column"]
        return self.summary_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Invoice | None = None) -> Any:
        if obj is None:
            return []
        if obj.is_draft:
            return ["account_link_display", "status_badge", "currency", "total_column"]
        return self.summary_fields

    def get_formset_kwargs(self, request: HttpRequest, obj: Any, inline: Any, prefix: str) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        adding = obj is None or obj._state.adding
        if isinstance(inline, InvoiceLineInline) and inline.has_add_permission(request, None if adding else obj):
            default = TaxRate.objects.filter(is_default=True, active=True).order_by("name").first()
            if default is not None:
                extra = inline.get_extra(request, None if adding else obj)
                kwargs["initial"] = [{"tax_rate": default.pk} for _ in range(extra)]
        return kwargs

    def save_model(self, request: HttpRequest, obj: Invoice, form: Any, change: bool) -> None:
        """Nothing here: the invoice and its lines are saved together by the service in save_related."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        obj: Invoice = form.instance
        data = form.cleaned_data
        lines = lines_from_formsets(formsets)
        with refusals_as_form_errors():
            if change:
                saved = invoice_update_draft(
                    invoice=obj,
                    lines=lines,
                    due_date=data.get("due_date"),
                    memo=data.get("memo", ""),
                    actor=request.user,
                )
            else:
                saved = invoice_create(
                    account=data["account"],
                    lines=lines,
                    due_date=data.get("due_date"),
                    memo=data.get("memo", ""),
                    actor=request.user,
                )
        adopt_saved(obj, saved)

    def construct_change_message(self, request: HttpRequest, form: Any, formsets: Any, add: bool = False) -> Any:
        message = construct_change_message(form, [], add)
        if not add:
            message.append({"changed": {"fields": ["lines"]}})
        return message

    def delete_model(self, request: HttpRequest, obj: Invoice) -> None:
        invoice_delete_draft(invoice=obj, actor=request.user)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:invoices_invoice_change", args=[object_id]))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        invoice = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if invoice is not None:
            extra["document_url"] = reverse("invoice-document", args=[invoice.pk])
            extra["pdf_url"] = reverse("invoice-document-pdf", args=[invoice.pk])
            if invoice.status in CREDITABLE and has_perm(request, "invoices.issue_credit_note"):
                extra["credit_note_url"] = f"{reverse('admin:invoices_creditnote_add')}?invoice={invoice.pk}"
            if invoice.status == InvoiceStatus.OPEN and has_perm(request, "payments.add_payment"):
                extra["payment_add_url"] = f"{reverse('admin:payments_payment_add')}?account={invoice.account_id}"
        return super().change_view(request, object_id, form_url, extra)

    # --- search: by number or account, through indexes ----------------------------------------
    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Invoice], search_term: str) -> Any:
        if autocomplete_for(request) == "invoices.creditnote.invoice":
            queryset = queryset.filter(status__in=CREDITABLE)  # what the credit note form accepts
        return document_search(queryset, search_term), False

    # --- columns --------------------------------------------------------------------------------
    @admin.display(description="invoice", ordering="number")
    def number_column(self, obj: Invoice) -> str:
        return str(obj)

    @admin.display(description="account", ordering="account__name")
    def account_column(self, obj: Invoice) -> str:
        return f"{obj.account.name} ({obj.account.number})"

    @admin.display(description="account")
    def account_link_display(self, obj: Invoice) -> SafeString:
        return account_link(obj.account)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Invoice) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="total", ordering="total")
    def total_column(self, obj: Invoice) -> SafeString:
        return money_html(obj.total, obj.currency)

    @admin.display(description="amount due", ordering="amount_due")
    def amount_due_column(self, obj: Invoice) -> SafeString:
        return money_html(obj.amount_due, obj.currency, strong=obj.status == InvoiceStatus.OPEN)

    @admin.display(description="subtotal")
    def subtotal_display(self, obj: Invoice) -> SafeString:
        return money_html(obj.subtotal, obj.currency)

    @admin.display(description="tax")
    def tax_display(self, obj: Invoice) -> SafeString:
        return money_html(obj.tax, obj.currency)

    @admin.display(description="paid")
    def amount_paid_display(self, obj: Invoice) -> SafeString:
        return money_html(obj.amount_paid, obj.currency)

    @admin.display(description="credited")
    def amount_credited_display(self, obj: Invoice) -> SafeString:
        return money_html(obj.amount_credited, obj.currency)

    @admin.display(description="days overdue", ordering="due_date")
    def days_overdue_column(self, obj: Invoice) -> SafeString | str:
        days = obj.days_overdue(tenant_today())
        return badge("overdue", f"{days} d") if days else "-"

    @admin.display(description="payments")
    def payments_display(self, obj: Invoice) -> SafeString:
        allocations = obj.payment_allocations.select_related("payment").order_by("created_at", "pk")[:50]
        rows = [
            (
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:payments_payment_change", args=[allocation.payment_id]),
                    allocation.payment.received_at.strftime("%Y-%m-%d"),
                ),
                allocation.payment.get_method_display(),
                money_html(allocation.amount, obj.currency),
            )
            for allocation in allocations
        ]
        return small_table(rows)

    @admin.display(description="credit notes")
    def credit_notes_display(self, obj: Invoice) -> SafeString:
        rows = [
            (
                format_html('<a href="{}">{}</a>', reverse("admin:invoices_creditnote_change", args=[note.pk]), note),
                note.reason,
                money_html(note.amount, note.currency),
            )
            for note in obj.credit_notes.order_by("created_at", "pk")[:50]
        ]
        return small_table(rows)

    # --- actions: each reports per invoice ---------------------------------------------------------
    @admin.action(description="Finalize selected drafts", permissions=["finalize"])
    def finalize_invoices(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        run_bulk_action(
            self,
            request,
            queryset,
            verb="finalized",
            action=lambda invoice: f"as {invoice_finalize(invoice=invoice, actor=request.user).number}",
        )

    @admin.action(description="Mark selected invoices as sent", permissions=["finalize"])
    def send_invoices(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        run_bulk_action(
            self,
            request,
            queryset,
            verb="sent",
            action=lambda invoice: invoice_mark_sent(invoice=invoice, actor=request.user),
        )

    @admin.action(description="Void selected invoices…", permissions=["void"])
    def void_invoices(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> TemplateResponse | None:
        return self._with_reason(
            request,
            queryset,
            title="Void invoices",
            verb="voided",
            service=lambda invoice, reason: invoice_void(invoice=invoice, reason=reason, actor=request.user),
        )

    @admin.action(description="Mark selected invoices uncollectible (write off)…", permissions=["write_off"])
    def write_off_invoices(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> TemplateResponse | None:
        return self._with_reason(
            request,
            queryset,
            title="Write off invoices",
            verb="written off",
            service=lambda invoice, reason: invoice_mark_uncollectible(
                invoice=invoice, reason=reason, actor=request.user
            ),
        )

    def _with_reason(
        self, request: HttpRequest, queryset: QuerySet[Invoice], *, title: str, verb: str, service: Any
    ) -> TemplateResponse | None:
        """Ask for a reason on an intermediate page, then run the service per invoice."""
        invoices = bounded_selection(self, request, queryset.select_related("account"))
        if invoices is None:
            return None
        form = ReasonForm(request.POST if request.POST.get("confirm") == "yes" else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            run_per_object(self, request, invoices, verb=verb, action=lambda invoice: service(invoice, reason))
            return None
        return admin_page(
            self,
            request,
            "admin/invoices/invoice/action_reason.html",
            title=title,
            form=form,
            verb=verb,
            invoices=invoices,
            action=request.POST.get("action", ""),
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
        )

    @admin.action(description="Export selected invoices as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> StreamingHttpResponse:
        return invoice_csv_response(queryset)

    @admin.action(description="Download PDFs of selected invoices (zip)", permissions=["view"])
    def download_pdfs(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        return invoice_pdf_zip_response(self, request, queryset)
