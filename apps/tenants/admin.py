"""The operators' admin on the public host: tenants, their hosts, beat schedules, operators.

It is a separate AdminSite so that nothing of the public schema shows up in a tenant's admin.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django_celery_beat import admin as beat_admin
from django_celery_beat import models as beat_models

from apps.tenants.exceptions import TenantError
from apps.tenants.models import (
    ApiKey,
    Domain,
    MigrationResultStatus,
    MigrationRun,
    MigrationTenantResult,
    Tenant,
    slug_validator,
)
from apps.tenants.services import (
    StaffUser,
    api_key_create,
    api_key_revoke,
    tenant_check_new,
    tenant_create,
    tenant_reactivate,
    tenant_suspend,
)


class OperatorAdminSite(admin.AdminSite):
    site_header = "DotMac Billing · platform operators"
    site_title = "Billing operators"
    index_title = "Tenants and schedules"


operator_site = OperatorAdminSite(name="operator_admin")


class DomainInline(admin.TabularInline[Domain, Tenant]):
    model = Domain
    extra = 0
    fields = ["domain", "is_primary"]


class TenantCreationForm(forms.ModelForm[Tenant]):
    """Creating a tenant also creates its first staff user; the service does all of it."""

    schema_name = forms.CharField(label="Slug", validators=[slug_validator], help_text="Also the schema and host name.")
    staff_username = forms.CharField(initial="admin")
    staff_email = forms.EmailField()
    staff_password = forms.CharField(widget=forms.PasswordInput, min_length=8)

    class Meta:
        model = Tenant
        fields = ["schema_name", "name", "timezone", "default_currency"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                tenant_check_new(
                    slug=data["schema_name"],
                    name=data["name"],
                    timezone_name=data["timezone"],
                    default_currency=data["default_currency"].upper(),
                )
            except TenantError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(Tenant, site=operator_site)
class TenantAdmin(admin.ModelAdmin[Tenant]):
    list_display = ["schema_name", "name", "status", "default_currency", "timezone", "created_at"]
    list_filter = ["status", "default_currency"]
    search_fields = ["schema_name", "name", "domains__domain"]
    readonly_fields = ["schema_name", "status", "created_at", "suspended_at", "suspension_reason"]
    inlines = [DomainInline]
    actions = ["suspend_selected", "reactivate_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return super().get_queryset(request).exclude(schema_name="public")

    def get_form(self, request: HttpRequest, obj: Tenant | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = TenantCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_inlines(self, request: HttpRequest, obj: Tenant | None) -> Any:
        return self.inlines if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        created = tenant_create(
            slug=data["schema_name"],
            name=data["name"],
            timezone_name=data["timezone"],
            default_currency=data["default_currency"],
            staff=StaffUser(data["staff_username"], data["staff_email"], data["staff_password"]),
        )
        obj.pk = created.pk
        obj._state.adding = False

    @admin.action(description="Suspend selected tenants")
    def suspend_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            tenant_suspend(tenant=tenant, reason=f"suspended by {request.user} in the operators' admin")
            self.message_user(request, f"{tenant.schema_name}: suspended", messages.SUCCESS)

    @admin.action(description="Reactivate selected tenants")
    def reactivate_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            tenant_reactivate(tenant=tenant)
            self.message_user(request, f"{tenant.schema_name}: reactivated", messages.SUCCESS)


@admin.register(Domain, site=operator_site)
class DomainAdmin(admin.ModelAdmin[Domain]):
    list_display = ["domain", "tenant", "is_primary"]
    list_select_related = ["tenant"]
    search_fields = ["domain", "tenant__schema_name"]


operator_site.register(User, UserAdmin)
operator_site.register(Group, GroupAdmin)

# Beat schedules live in the public schema: editable by operators, never shown to tenants.
for _model, _model_admin in [
    (beat_models.PeriodicTask, beat_admin.PeriodicTaskAdmin),
    (beat_models.CrontabSchedule, beat_admin.CrontabScheduleAdmin),
    (beat_models.IntervalSchedule, admin.ModelAdmin),
    (beat_models.ClockedSchedule, beat_admin.ClockedScheduleAdmin),
    (beat_models.SolarSchedule, admin.ModelAdmin),
]:
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    operator_site.register(_model, _model_admin)


# --- API keys, in each tenant's own admin (admin.site on tenant hosts) -------------------------


class ApiKeyCreationForm(forms.ModelForm[ApiKey]):
    class Meta:
        model = ApiKey
        fields = ["name", "scope"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    """The tenant's API keys: created here (the key is shown once), revoked here, never edited."""

    list_display = ["name", "key_hint", "scope", "created_at", "created_by", "last_used_at", "status"]
    list_filter = ["scope"]
    search_fields = ["name", "prefix"]
    readonly_fields = [
        "name",
        "key_hint",
        "scope",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    actions = ["revoke_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        # The table is in the public schema: show only this host's tenant's keys.
        return super().get_queryset(request).filter(tenant=getattr(request, "tenant", None))

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        return self.readonly_fields if obj is not None else ["name", "scope"]

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead: the record of who had access stays

    @admin.display(description="key")
    def key_hint(self, api_key: ApiKey) -> str:
        return f"bk_{api_key.prefix}_…"

    @admin.display(description="status")
    def status(self, api_key: ApiKey) -> str:
        return "active" if api_key.is_active else "revoked"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return  # keys are immutable; revoke and create another
        created, plaintext = api_key_create(
            tenant=request.tenant,  # type: ignore[attr-defined]
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            created_by=request.user.get_username(),
        )
        obj.pk = created.pk
        obj._state.adding = False
        request._new_api_key = plaintext  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        # Shown on this page once, never stored or put in a message cookie.
        context = {
            **self.admin_site.each_context(request),
            "api_key": obj,
            "plaintext": request._new_api_key,  # type: ignore[attr-defined]
            "opts": self.model._meta,
            "title": "API key created",
        }
        return TemplateResponse(request, "admin/tenants/apikey/created.html", context)

    @admin.action(description="Revoke selected API keys")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key, revoked_by=request.user.get_username())
            self.message_user(request, f"{api_key.name}: revoked", messages.SUCCESS)


class _ReadOnlyAdmin:
    """Run records are written by the commands only; the admin shows them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MigrationTenantResultInline(_ReadOnlyAdmin, admin.TabularInline[MigrationTenantResult, MigrationRun]):
    model = MigrationTenantResult
    fields = ["schema_name", "schema_kind", "status", "duration_seconds", "attempts", "restored", "error"]
    readonly_fields = ["schema_name", "schema_kind", "status", "duration_seconds", "attempts", "restored", "error"]
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[MigrationTenantResult]:
        # Failures first: with hundreds of tenants, they are what an operator opens a run for.
        return super().get_queryset(request).exclude(status=MigrationResultStatus.CURRENT).order_by("status")


@admin.register(MigrationRun, site=operator_site)
class MigrationRunAdmin(_ReadOnlyAdmin, admin.ModelAdmin[MigrationRun]):
    list_display = [
        "id",
        "kind",
        "status",
        "started_at",
        "duration_seconds",
        "schemas_total",
        "schemas_failed",
        "operator",
    ]
    list_filter = ["status", "kind", "started_at"]
    search_fields = ["operator", "command", "allow_unsafe_reason", "results__schema_name"]
    date_hierarchy = "started_at"
    readonly_fields = [field.name for field in MigrationRun._meta.fields]
    inlines = [MigrationTenantResultInline]


@admin.register(MigrationTenantResult, site=operator_site)
class MigrationTenantResultAdmin(_ReadOnlyAdmin, admin.ModelAdmin[MigrationTenantResult]):
    list_display = [
        "schema_name",
        "run",
        "schema_kind",
        "status",
        "duration_seconds",
        "attempts",
        "restored",
        "started_at",
    ]
    list_filter = ["status", "schema_kind", "restored", "run"]
    list_select_related = ["run"]
    search_fields = ["schema_name", "error"]
    readonly_fields = [field.name for field in MigrationTenantResult._meta.fields]
