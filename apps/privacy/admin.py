"""The audit trail (read-only) and the two actions on accounts: export (download) and anonymise."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.accounts.models import Account
from apps.core.admin_support import run_bulk_action
from apps.privacy.models import DataProtectionRecord
from apps.privacy.services import account_anonymise, account_export


@admin.register(DataProtectionRecord)
class DataProtectionRecordAdmin(admin.ModelAdmin[DataProtectionRecord]):
    list_display = ["created_at", "kind", "account", "actor", "via", "reason"]
    list_filter = ["kind", "via"]
    list_select_related = ["account"]
    search_fields = ["account__number", "actor"]
    readonly_fields = [field.name for field in DataProtectionRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(description="Export personal data (JSON download; one account)")
def export_personal_data(model_admin: Any, request: HttpRequest, queryset: QuerySet[Account]) -> HttpResponse | None:
    if not request.user.has_perm("privacy.export_personal_data"):
        model_admin.message_user(request, "You may not export personal data.", messages.ERROR)
        return None
    if queryset.count() != 1:
        model_admin.message_user(request, "Select exactly one account to export.", messages.WARNING)
        return None
    account = queryset.get()
    data = account_export(account=account, actor=request.user, via="admin", reason="admin download")
    response = HttpResponse(json.dumps(data, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{account.number}-export.json"'
    return response


@admin.action(description="Anonymise selected closed accounts (keeps financial records)")
def anonymise_accounts(model_admin: Any, request: HttpRequest, queryset: QuerySet[Account]) -> None:
    run_bulk_action(
        model_admin,
        request,
        queryset,
        verb="anonymised",
        action=lambda account: account_anonymise(
            account=account,
            actor=request.user,
            via="admin",
            reason=f"anonymised by {request.user} in the admin",
        ),
    )


# The accounts admin knows nothing of this app (layering): the actions are added from here.
if Account in admin.site._registry:
    _account_admin = admin.site._registry[Account]
    _account_admin.actions = [*(_account_admin.actions or []), export_personal_data, anonymise_accounts]
