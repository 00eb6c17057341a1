"""Changelist filters and search for invoices and credit notes, all backed by indexes."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from apps.accounts.models import Account
from apps.core.tenancy import tenant_today
from apps.invoices.selectors import BUCKETS_BY_KEY, OVERDUE_BUCKETS

# A search by account name matches at most this many accounts (then their invoices by index).
SEARCH_ACCOUNT_LIMIT = 200


class OverdueBucketFilter(admin.SimpleListFilter):
    """Open invoices by days overdue in the tenant's today (the AR aging's buckets)."""

    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(bucket.key, bucket.label) for bucket in OVERDUE_BUCKETS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        bucket = BUCKETS_BY_KEY.get(self.value() or "")
        return queryset.filter(bucket.condition(tenant_today())) if bucket else queryset


def matching_accounts(term: str) -> list[Any]:
    """Ids of accounts whose number or external id is `term`, or whose name contains it."""
    variants = {term, term.upper()}
    return list(
        Account.objects.filter(Q(number__in=variants) | Q(external_id=term) | Q(name__icontains=term))
        .order_by()
        .values_list("pk", flat=True)[:SEARCH_ACCOUNT_LIMIT]
    )


def document_search(queryset: QuerySet[Any], term: str, *, with_external_id: bool = True) -> QuerySet[Any]:
    """Search documents by their number (exact, any case) or their account (number, name).

    The matching accounts are looked up first so that the document query is an OR of index
    conditions (number, account_id), never a join scanned over millions of rows.
    """
    term = term.strip()
    if not term:
        return queryset
    variants = {term, term.upper()}
    condition = Q(number__in=variants)
    if with_external_id:
        condition |= Q(external_id=term)
    account_ids = matching_accounts(term)
    if account_ids:
        condition |= Q(account_id__in=account_ids)
    return queryset.filter(condition)
