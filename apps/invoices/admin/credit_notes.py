"""Credit notes: a read-only list, and "add" is the issue form calling credit_note_issue."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.safestring import SafeString

from apps.accounts.admin import AccountFilter, CurrencyFilter
from apps.core.admin_support import (
    FastChangeListMixin,
    ReadOnlyInline,
    add_domain_error,
    admin_page,
    has_perm,
    money_html,
    money_text,
)
from apps.core.errors import DomainError
from apps.invoices.admin.filters import document_search
from apps.invoices.credit_notes import CREDITABLE, credit_note_issue
from apps.invoices.models import CreditApplication, CreditNote, Invoice


class CreditNoteIssueForm(forms.Form):
    invoice = forms.ModelChoiceField(
        queryset=Invoice.objects.filter(status__in=CREDITABLE).select_related("account"),
        widget=AutocompleteSelect(CreditNote._meta.get_field("invoice"), admin.site),
        help_text="An open or paid invoice.",
    )
    amount = forms.DecimalField(max_digits=20, decimal_places=4, min_value=Decimal("0.0001"))
    reason = forms.CharField(max_length=500, widget=forms.TextInput(attrs={"size": 60}))


CREDIT_APPLICATION_INLINE_FIELDS = (
    "invoice",
    "amount",
    "created_at",
)


class CreditApplicationInline(ReadOnlyInline):
    model = CreditApplication
    fields = CREDIT_APPLICATION_INLINE_FIELDS
    readonly_fields = CREDIT_APPLICATION_INLINE_FIELDS
    related = ("invoice",)


CREDIT_NOTE_ADMIN_FIELDS = (
    "number",
    "invoice",
    "account",
    "currency",
    "amount_column",
    "applied_column",
    "reason",
    "issue_date",
    "created_by",
    "created_at",
)


@admin.register(CreditNote)
class CreditNoteAdmin(FastChangeListMixin, admin.ModelAdmin[CreditNote]):
    list_display = ["number", "invoice", "account", "amount_column", "applied_column", "issue_date", "reason"]
    list_select_related = ["invoice", "account"]
    list_filter = [CurrencyFilter, AccountFilter]
    search_fields = ["number"]  # see get_search_results
    search_help_text = "Credit note number, or account number / name."
    ordering = ["-created_at", "id"]
    inlines = [CreditApplicationInline]
    fields = CREDIT_NOTE_ADMIN_FIELDS
    readonly_fields = CREDIT_NOTE_ADMIN_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "invoices.issue_credit_note")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # issued credit notes never change

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[CreditNote], search_term: str) -> Any:
        return document_search(queryset, search_term, with_external_id=False), False

    @admin.display(description="amount", ordering="amount")
    def amount_column(self, obj: CreditNote) -> SafeString:
        return money_html(obj.amount, obj.currency)

    @admin.display(description="applied to invoices")
    def applied_column(self, obj: CreditNote) -> SafeString:
        return money_html(obj.amount_applied, obj.currency)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """Issue a credit note against an invoice (`?invoice=<id>` prefills it)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CreditNoteIssueForm(
            request.POST if request.method == "POST" else None, initial={"invoice": request.GET.get("invoice")}
        )
        if form.is_bound and form.is_valid():
            try:
                note = credit_note_issue(
                    invoice=form.cleaned_data["invoice"],
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                self.log_addition(request, note, [{"added": {}}])
                self.message_user(
                    request,
                    f"Credit note {note.number} of {money_text(note.amount, note.currency)} issued on invoice "
                    f"{note.invoice} ({money_text(note.amount_applied, note.currency)} applied to it).",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:invoices_creditnote_change", args=[note.pk]))
        invoice = None
        invoice_id = request.POST.get("invoice") or request.GET.get("invoice")
        if invoice_id:
            invoice = (
                Invoice.objects.filter(pk=invoice_id).select_related("account").first()
                if _is_uuid(invoice_id)
                else None
            )
        return admin_page(
            self,
            request,
            "admin/invoices/creditnote/issue.html",
            title="Issue a credit note",
            form=form,
            invoice=invoice,
        )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
