"""The payments admin: payments are recorded (with an allocation preview) and refunded here,
never edited; failed attempts are listed with their reason."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.accounts.admin import AccountFilter, CurrencyFilter, account_link
from apps.accounts.models import Account
from apps.core.admin_support import (
    AuditedAdmin,
    DateRangeFilter,
    FastChangeListMixin,
    ReadOnlyInline,
    add_domain_error,
    admin_page,
    badge,
    has_perm,
    money_html,
    money_text,
)
from apps.core.errors import DomainError
from apps.core.money import quantize
from apps.invoices.admin.filters import matching_accounts
from apps.payments.admin.forms import RecordPaymentForm, RefundForm, preview_token
from apps.payments.models import Payment, PaymentAllocation, PaymentStatus, Refund
from apps.payments.selectors import payment_allocation_preview
from apps.payments.services import AllocationInput, payment_record, payment_refund

ALLOCATION_INLINE_FIELDS = (
    "invoice",
    "amount",
    "created_at",
)


class AllocationInline(ReadOnlyInline):
    model = PaymentAllocation
    fields = ALLOCATION_INLINE_FIELDS
    readonly_fields = ALLOCATION_INLINE_FIELDS
    related = ("invoice",)


REFUND_INLINE_FIELDS = ("created_at", "amount", "reason", "from_credit", "created_by")


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = REFUND_INLINE_FIELDS
    readonly_fields = REFUND_INLINE_FIELDS


PAYMENT_ADMIN_FIELDS = (
    "account_link_display",
    "status_badge",
    "failure",
    "amount_column",
    "allocated_column",
    "refunded_column",
    "credit_column",
    "method",
    "gateway",
    "gateway_reference",
    "reference",
    "received_at",
    "created_by",
    "created_at",
)


@admin.register(Payment)
class PaymentAdmin(FastChangeListMixin, AuditedAdmin):
    list_display = [
        "received_column",
        "account",
        "status_badge",
        "method",
        "amount_column",
        "allocated_column",
        "refunded_column",
        "reference",
        "failure",
    ]
    list_display_links = ["received_column"]
    list_select_related = ["account"]
    list_filter = ["status", "method", CurrencyFilter, ("received_at", DateRangeFilter), AccountFilter]
    search_fields = ["reference"]  # see get_search_results
    search_help_text = "Reference or gateway reference (exact), or account number / name."
    ordering = ["-received_at", "id"]
    inlines = [AllocationInline, RefundInline]
    actions = ["refund_payment"]
    change_form_template = "admin/payments/payment/change_form.html"
    fields = PAYMENT_ADMIN_FIELDS
    readonly_fields = PAYMENT_ADMIN_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "payments.add_payment")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # recorded payments change only through refunds

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "payments.refund_payment")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Payment], search_term: str) -> Any:
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(reference=term) | Q(gateway_reference=term)
        account_ids = matching_accounts(term)
        if account_ids:
            condition |= Q(account_id__in=account_ids)
        return queryset.filter(condition), False

    def get_urls(self) -> list[URLPattern]:
        refund = path(
            "<path:object_id>/refund/",
            self.admin_site.admin_view(self.refund_view),
            name="payments_payment_refund",
        )
        return [refund, *super().get_urls()]

    # --- columns ------------------------------------------------------------------------------
    @admin.display(description="received", ordering="received_at")
    def received_column(self, obj: Payment) -> str:
        return obj.received_at.strftime("%Y-%m-%d %H:%M")

    @admin.display(description="account")
    def account_link_display(self, obj: Payment) -> SafeString:
        return account_link(obj.account)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Payment) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="amount", ordering="amount")
    def amount_column(self, obj: Payment) -> SafeString:
        return money_html(obj.amount, obj.currency, strong=True)

    @admin.display(description="allocated")
    def allocated_column(self, obj: Payment) -> SafeString:
        return money_html(obj.amount_allocated, obj.currency)

    @admin.display(description="refunded")
    def refunded_column(self, obj: Payment) -> SafeString | str:
        return money_html(obj.amount_refunded, obj.currency) if obj.amount_refunded else "-"

    @admin.display(description="held as credit")
    def credit_column(self, obj: Payment) -> SafeString:
        return money_html(obj.unallocated, obj.currency)

    @admin.display(description="failure")
    def failure(self, obj: Payment) -> SafeString | str:
        if obj.status != PaymentStatus.FAILED:
            return "-"
        return format_html("<strong>{}</strong> {}", obj.failure_code or "failed", obj.failure_message)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        payment = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if payment is not None and payment.refundable > 0 and self.has_refund_permission(request):
            extra["refund_url"] = reverse("admin:payments_payment_refund", args=[payment.pk])
        return super().change_view(request, object_id, form_url, extra)

    # --- record a payment: form, preview, confirm -----------------------------------------------
    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        initial = {"account": request.GET.get("account")} if request.GET.get("account") else {}
        form = RecordPaymentForm(request.POST if request.method == "POST" else None, initial=initial)
        preview = None
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                preview = payment_allocation_preview(
                    account=data["account"], amount=data["amount"], allocations=data["allocation_pairs"]
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                token = preview_token(data, preview)
                confirmed = "_confirm" in request.POST
                if confirmed and data.get("preview_token") == token:
                    response = self._record(request, form, data)
                    if response is not None:
                        return response
                elif confirmed:
                    self.message_user(
                        request,
                        "The payment or the account's invoices changed since the preview: check the new preview.",
                        messages.WARNING,
                    )
                posted = request.POST.copy()
                posted["preview_token"] = token
                form.data = posted
        account = form.cleaned_data.get("account") if form.is_bound and hasattr(form, "cleaned_data") else None
        if account is None and initial.get("account"):
            account = _account_or_none(str(initial["account"]))
        return admin_page(
            self,
            request,
            "admin/payments/payment/record.html",
            title="Record a payment",
            form=form,
            preview=preview,
            account=account,
        )

    def _record(self, request: HttpRequest, form: RecordPaymentForm, data: dict[str, Any]) -> HttpResponse | None:
        account: Account = data["account"]
        explicit = [AllocationInput(invoice=invoice, amount=amount) for invoice, amount in data["allocation_pairs"]]
        try:
            payment = payment_record(
                account=account,
                amount=data["amount"],
                currency=account.currency,
                method=data["method"],
                reference=data.get("reference") or "",
                received_at=data.get("received_at"),
                allocations=explicit or None,
                actor=request.user,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
            return None
        self.log_addition(request, payment, [{"added": {}}])
        allocated = ", ".join(
            f"{allocation.invoice} {money_text(allocation.amount, payment.currency)}"
            for allocation in payment.allocations.select_related("invoice").order_by("pk")
        )
        self.message_user(
            request,
            f"Payment of {money_text(payment.amount, payment.currency)} recorded for {account}: "
            f"{allocated or 'nothing allocated'}; {money_text(payment.unallocated, payment.currency)} kept as credit.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))

    # --- refunds ----------------------------------------------------------------------------------
    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_refund_permission(request):
            raise PermissionDenied
        payment = get_object_or_404(Payment.objects.select_related("account"), pk=object_id)
        form = RefundForm(
            request.POST if request.method == "POST" else None,
            initial={"amount": quantize(payment.refundable, payment.currency)},
        )
        if form.is_bound and form.is_valid():
            try:
                refund = payment_refund(
                    payment=payment,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                self.log_change(request, payment, [{"changed": {"fields": ["amount_refunded"]}}])
                self.message_user(
                    request,
                    f"Refunded {money_text(refund.amount, payment.currency)} of the payment "
                    f"({money_text(refund.from_credit, payment.currency)} from credit"
                    f"{', the rest reopened on its invoices' if refund.from_invoices else ''}).",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))
        return admin_page(
            self,
            request,
            "admin/payments/payment/refund.html",
            title=f"Refund payment of {money_text(payment.amount, payment.currency)}",
            form=form,
            payment=payment,
            refundable=money_text(payment.refundable, payment.currency),
        )

    @admin.action(description="Refund the selected payment…", permissions=["refund"])
    def refund_payment(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, "Select exactly one payment to refund.", messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:payments_payment_refund", args=[selected[0].pk]))


def _account_or_none(value: str) -> Account | None:
    try:
        return Account.objects.filter(pk=uuid.UUID(str(value))).first()
    except ValueError:
        return None


@admin.register(Refund)
class RefundAdmin(FastChangeListMixin, admin.ModelAdmin[Refund]):
    """Refunds are made from a payment (its Refund button); here they are listed."""

    list_display = ["created_at", "payment", "amount", "reason", "from_credit", "created_by"]
    list_select_related = ["payment"]
    ordering = ["-created_at", "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
