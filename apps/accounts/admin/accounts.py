"""The finance staff's admin of billing accounts (and the tenant's billing settings).

Every save and action goes through apps.accounts.services; a refusal shows as a form error or
a per-account message. Invoices, payments and credit notes of an account appear as short
linked lists (reverse relations, so this module imports nothing above accounts).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.accounts.admin.filters import BalanceFilter, CurrencyFilter
from apps.accounts.models import Account, AccountStatus
from apps.accounts.services import (
    EDITABLE_FIELDS,
    account_close,
    account_create,
    account_reactivate,
    account_suspend,
    account_update,
)
from apps.core.admin_support import (
    AuditedAdmin,
    FastChangeListMixin,
    ServiceFormAdmin,
    adopt_saved,
    autocomplete_for,
    badge,
    has_perm,
    money_html,
    refusals_as_form_errors,
    run_bulk_action,
    small_table,
)
from apps.core.tenancy import current_tenant

RECENT_ROWS = 10


class AccountForm(forms.ModelForm[Account]):
    """Input only: validation and saving are the services' (account_create / account_update)."""

    # A text input (the service checks the name): a 600-option select would slow every account page.
    timezone = forms.CharField(max_length=64, initial="UTC", help_text="IANA name, e.g. Africa/Lagos.")
    currency = forms.CharField(max_length=3, help_text="ISO 4217 code, e.g. NGN. Cannot change later.")

    class Meta:
        model = Account
        fields = ["name", "external_id", "currency", *sorted(EDITABLE_FIELDS - {"name", "external_id"})]

    def clean_currency(self) -> str:
        return str(self.cleaned_data.get("currency") or "").strip().upper()


def statement_url(account: Account) -> str:
    """The account's statement (HTML; `&format=pdf` for the PDF), from the documents' views."""
    return reverse("account-statement-document", args=[account.pk])


@admin.register(Account)
class AccountAdmin(FastChangeListMixin, ServiceFormAdmin[Account], AuditedAdmin):
    form = AccountForm
    list_display = ["number", "name", "email", "status_badge", "currency", "balance_column", "external_id"]
    list_display_links = ["number", "name"]
    list_filter = ["status", CurrencyFilter, BalanceFilter]
    search_fields = ["name", "email", "=number", "=external_id"]
    search_help_text = "Name or email (contains), account number or external id (exact)."
    ordering = ["-created_at", "id"]
    actions = ["suspend_accounts", "reactivate_accounts", "close_accounts"]
    change_form_template = "admin/accounts/account/change_form.html"
    readonly_fields = [
        "number",
        "status_badge",
        "balance_column",
        "amount_due_display",
        "credit_display",
        "suspended_at",
        "suspension_source",
        "suspension_reason",
        "closed_at",
        "created_at",
        "recent_invoices",
        "recent_payments",
        "recent_credit_notes",
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Account | None = None) -> Any:
        details: tuple[Any, ...] = ("name", "external_id", "currency")
        if obj is not None:
            details = ("number", "name", "external_id", "currency", "status_badge", "balance_column")
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": details}),
            (
                "Contact and notifications",
                {
                    "fields": (
                        "email",
                        "phone",
                        "locale",
                        "timezone",
                        ("notify_by_email", "notify_by_sms", "notify_by_push"),
                    )
                },
            ),
            (
                "Billing address and terms",
                {
                    "fields": (
                        "address_line1",
                        "address_line2",
                        ("postal_code", "city"),
                        ("region", "country"),
                        "tax_id",
                        "payment_terms_days",
                    )
                },
            ),
        ]
        if obj is not None:
            fieldsets += [
                (
                    "Ledger",
                    {
                        "fields": (
                            ("amount_due_display", "credit_display"),
                            "recent_invoices",
                            "recent_payments",
                            "recent_credit_notes",
                        )
                    },
                ),
                (
                    "Status",
                    {"fields": ("suspended_at", "suspension_source", "suspension_reason", "closed_at", "created_at")},
                ),
            ]
        fieldsets.append(("Tags and metadata", {"fields": ("tags", "metadata"), "classes": ("collapse",)}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Account | None = None) -> Any:
        if obj is not None:
            return [*self.readonly_fields, "currency"]
        return self.readonly_fields

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        tenant = current_tenant()
        initial.setdefault("currency", getattr(tenant, "default_currency", "") or "")
        initial.setdefault("timezone", getattr(tenant, "timezone", "UTC") or "UTC")
        return initial

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Account], search_term: str) -> Any:
        if autocomplete_for(request) in ("invoices.invoice.account", "payments.payment.account"):
            queryset = queryset.exclude(status=AccountStatus.CLOSED)  # closed accounts are billed no more
        return super().get_search_results(request, queryset, search_term)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # accounts are closed (an action), never deleted

    def has_suspend_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "accounts.suspend_account")

    def has_close_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "accounts.delete_account")

    # --- saving through the services ---------------------------------------------------
    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        data = form.cleaned_data
        with refusals_as_form_errors():
            if change:
                changed = {name: data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
                saved = account_update(account=obj, actor=request.user, **changed)
            else:
                fields = {name: value for name, value in data.items() if name in EDITABLE_FIELDS}
                saved = account_create(currency=data["currency"], actor=request.user, **fields)
        adopt_saved(obj, saved)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        account = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if account is not None:
            extra["statement_url"] = statement_url(account)
            extra["invoice_add_url"] = (
                f"{reverse('admin:invoices_invoice_add')}?account={account.pk}"
                if has_perm(request, "invoices.add_invoice") and account.status != AccountStatus.CLOSED
                else None
            )
            extra["payment_add_url"] = (
                f"{reverse('admin:payments_payment_add')}?account={account.pk}"
                if has_perm(request, "payments.add_payment") and account.status != AccountStatus.CLOSED
                else None
            )
        return super().change_view(request, object_id, form_url, extra)

    # --- columns ------------------------------------------------------------------------
    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Account) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="balance", ordering=F("amount_due") - F("credit_balance"))
    def balance_column(self, obj: Account) -> SafeString:
        return money_html(obj.balance, obj.currency, strong=True)

    @admin.display(description="open amount due")
    def amount_due_display(self, obj: Account) -> SafeString:
        return money_html(obj.amount_due, obj.currency)

    @admin.display(description="unapplied credit")
    def credit_display(self, obj: Account) -> SafeString:
        return money_html(obj.credit_balance, obj.currency)

    # --- linked lists (bounded: the newest RECENT_ROWS, then a link to the filtered list) ----
    @admin.display(description="invoices")
    def recent_invoices(self, obj: Account) -> SafeString:
        invoices = obj.invoices.order_by("-created_at", "id")[:RECENT_ROWS]
        rows = [
            (
                format_html('<a href="{}">{}</a>', reverse("admin:invoices_invoice_change", args=[inv.pk]), inv),
                badge(inv.status, inv.get_status_display()),
                inv.issue_date or "-",
                inv.due_date or "-",
                money_html(inv.total, inv.currency),
                money_html(inv.amount_due, inv.currency),
            )
            for inv in invoices
        ]
        return small_table(
            rows,
            ["Invoice", "Status", "Issued", "Due", "Total", "Due now"],
            more_url=f"{reverse('admin:invoices_invoice_changelist')}?account={obj.pk}",
            more_label="All invoices",
        )

    @admin.display(description="payments")
    def recent_payments(self, obj: Account) -> SafeString:
        payments = obj.payments.order_by("-received_at", "-created_at")[:RECENT_ROWS]
        rows = [
            (
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:payments_payment_change", args=[p.pk]),
                    p.received_at.strftime("%Y-%m-%d"),
                ),
                badge(p.status, p.get_status_display()),
                p.get_method_display(),
                p.reference or "-",
                money_html(p.amount, p.currency),
                money_html(p.amount_refunded, p.currency) if p.amount_refunded else "-",
            )
            for p in payments
        ]
        return small_table(
            rows,
            ["Received", "Status", "Method", "Reference", "Amount", "Refunded"],
            more_url=f"{reverse('admin:payments_payment_changelist')}?account={obj.pk}",
            more_label="All payments",
        )

    @admin.display(description="credit notes")
    def recent_credit_notes(self, obj: Account) -> SafeString:
        notes = obj.credit_notes.select_related("invoice").order_by("-created_at", "id")[:RECENT_ROWS]
        rows = [
            (
                format_html('<a href="{}">{}</a>', reverse("admin:invoices_creditnote_change", args=[n.pk]), n.number),
                n.issue_date,
                n.invoice,
                n.reason,
                money_html(n.amount, n.currency),
            )
            for n in notes
        ]
        return small_table(
            rows,
            ["Credit note", "Issued", "Invoice", "Reason", "Amount"],
            more_url=f"{reverse('admin:invoices_creditnote_changelist')}?account={obj.pk}",
            more_label="All credit notes",
        )

    # --- actions (per-account reporting) ------------------------------------------------------
    @admin.action(description="Suspend selected accounts", permissions=["suspend"])
    def suspend_accounts(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        reason = f"suspended by {request.user} in the admin"
        run_bulk_action(
            self,
            request,
            queryset,
            verb="suspended",
            action=lambda account: account_suspend(account=account, reason=reason, actor=request.user),
        )

    @admin.action(description="Reactivate selected accounts", permissions=["suspend"])
    def reactivate_accounts(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        run_bulk_action(
            self,
            request,
            queryset,
            verb="reactivated",
            action=lambda account: account_reactivate(account=account, actor=request.user),
        )

    @admin.action(description="Close selected accounts (nothing owed, no credit)", permissions=["close"])
    def close_accounts(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        run_bulk_action(
            self,
            request,
            queryset,
            verb="closed",
            action=lambda account: account_close(account=account, actor=request.user),
        )
