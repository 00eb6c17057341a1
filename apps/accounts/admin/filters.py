"""Changelist filters shared by the finance admins (accounts, invoices, credit notes, payments)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.accounts.models import Account


class CurrencyFilter(admin.SimpleListFilter):
    """The currencies accounts are billed in (a DISTINCT over accounts, never over invoices)."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        currencies = Account.objects.order_by("currency").values_list("currency", flat=True).distinct()
        return [(code, code) for code in currencies]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(currency=value) if value else queryset


class AccountFilter(admin.SimpleListFilter):
    """`?account=<id>`: one account's documents (linked from the account page); shown when set."""

    title = "account"
    parameter_name = "account"

    def _account_id(self) -> uuid.UUID | None:
        value = self.value()
        if not value:
            return None
        try:
            return uuid.UUID(str(value))
        except ValueError as exc:
            raise IncorrectLookupParameters(f"{value!r} is not an account id") from exc

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        account_id = self._account_id()
        account = Account.objects.filter(pk=account_id).first() if account_id else None
        return [(str(account.pk), str(account))] if account else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        account_id = self._account_id()
        return queryset.filter(account_id=account_id) if account_id else queryset


class BalanceFilter(admin.SimpleListFilter):
    title = "balance"
    parameter_name = "balance"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("owing", "Owing"), ("credit", "In credit"), ("settled", "Settled")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Account]) -> QuerySet[Account]:
        value = self.value()
        if value == "owing":
            return queryset.filter(amount_due__gt=F("credit_balance"))
        if value == "credit":
            return queryset.filter(credit_balance__gt=F("amount_due"))
        if value == "settled":
            return queryset.filter(amount_due=F("credit_balance"))
        return queryset


def account_link(account: Account) -> SafeString:
    """A link to the account's change page (used by the invoice and payment lists)."""
    return format_html('<a href="{}">{}</a>', reverse("admin:accounts_account_change", args=[account.pk]), account)
