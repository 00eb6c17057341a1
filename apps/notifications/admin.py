"""The notification log (what was sent to whom, why it failed, resend), template overrides
with a live preview on sample data, and per-account preferences."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from apps.core.admin_support import DateRangeFilter, FastChangeListMixin, badge, has_perm, run_bulk_action
from apps.core.errors import DomainError
from apps.notifications.kinds import KINDS
from apps.notifications.models import (
    Notification,
    NotificationPreference,
    NotificationTemplate,
    Status,
    TemplatePart,
)
from apps.notifications.phone import sms_segments
from apps.notifications.rendering import TemplateProblem, render_sample, shipped_source, validate_source
from apps.notifications.services import notification_resend, notification_template_save

STATUS_BADGES = {
    Status.QUEUED: "draft",
    Status.SENDING: "open",
    Status.SENT: "open",
    Status.DELIVERED: "paid",
    Status.FAILED: "overdue",
    Status.BOUNCED: "overdue",
}


@admin.register(Notification)
class NotificationAdmin(FastChangeListMixin, admin.ModelAdmin[Notification]):
    list_display = ["created_at", "kind", "channel", "recipient", "account", "status_badge", "attempts", "error"]
    list_filter = ["channel", "status", "kind", "priority", ("created_at", DateRangeFilter)]
    search_fields = ["=recipient", "recipient", "=provider_message_id", "account__name", "=account__number"]
    list_select_related = ["account"]
    date_hierarchy = None
    actions = ["resend_notifications"]
    fields = (
        "account",
        "invoice",
        "kind",
        "channel",
        "priority",
        "status",
        "recipient",
        "language",
        "attempts",
        "last_error",
        "provider_message_id",
        "subject",
        "body",
        "context",
        "idempotency_key",
        "send_after",
        "created_at",
        "sent_at",
        "delivered_at",
        "resend_of",
    )
    readonly_fields = fields

    @admin.display(description=_("Status"), ordering="status")
    def status_badge(self, obj: Notification) -> SafeString:
        return badge(STATUS_BADGES.get(Status(obj.status), obj.status), obj.get_status_display())

    @admin.display(description=_("Last error"))
    def error(self, obj: Notification) -> str:
        return obj.last_error[:120]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return has_perm(request, "notifications.resend_notification")

    @admin.action(description=_("Resend selected notifications"), permissions=["resend"])
    def resend_notifications(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        def resend(notification: Notification) -> str:
            resent = notification_resend(notification=notification, actor=request.user)
            return f"again to {resent.recipient or resent.channel} ({resent.get_status_display()})"

        run_bulk_action(self, request, queryset.select_related("account", "invoice"), verb="resent", action=resend)


class NotificationTemplateForm(forms.ModelForm[NotificationTemplate]):
    class Meta:
        model = NotificationTemplate
        fields = ["kind", "part", "language", "source", "is_active"]
        widgets = {"source": forms.Textarea(attrs={"rows": 14, "cols": 100, "style": "font-family:monospace"})}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") and data.get("part") and data.get("source") is not None:
            try:
                validate_source(kind=data["kind"], part=data["part"], source=data["source"])
            except TemplateProblem as exc:
                raise ValidationError({"source": str(exc)}) from exc
        return data


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(admin.ModelAdmin[NotificationTemplate]):
    form = NotificationTemplateForm
    change_form_template = "admin/notifications/notificationtemplate/change_form.html"
    list_display = ["kind", "part", "language", "is_active", "updated_at"]
    list_filter = ["kind", "part", "language", "is_active"]
    readonly_fields = ["variables", "shipped"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return ["kind", "part", "language", "source", "is_active", "variables", "shipped"]

    @admin.display(description=_("Available variables"))
    def variables(self, obj: NotificationTemplate) -> SafeString:
        if not obj.kind:
            return format_html("{}", _("Choose a kind and save, or use the preview."))
        return format_html("<code>{}</code>", ", ".join(KINDS[obj.kind].variable_names))

    @admin.display(description=_("Shipped template"))
    def shipped(self, obj: NotificationTemplate) -> SafeString:
        if not obj.kind or not obj.part:
            return format_html("{}", "")
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", shipped_source(obj.kind, obj.part))

    def save_model(self, request: HttpRequest, obj: NotificationTemplate, form: Any, change: bool) -> None:
        saved = notification_template_save(
            template=obj if change else None,
            kind=obj.kind,
            part=obj.part,
            language=obj.language,
            source=obj.source,
            is_active=obj.is_active,
            actor=request.user,
        )
        obj.pk = saved.pk

    def get_urls(self) -> list[URLPattern]:
        preview = self.admin_site.admin_view(self.preview_view)
        return [path("preview/", preview, name="notifications_notificationtemplate_preview"), *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """The live preview: the posted source rendered with the kind's sample data."""
        if not self.has_view_permission(request):
            return JsonResponse({"ok": False, "error": "not permitted"}, status=403)
        kind, part = request.POST.get("kind", ""), request.POST.get("part", "")
        language = request.POST.get("language") or "en"
        if kind not in KINDS or part not in TemplatePart.values:
            return JsonResponse({"ok": False, "error": str(_("Choose a kind and a part."))})
        source = request.POST.get("source") or shipped_source(kind, part)
        try:
            validate_source(kind=kind, part=part, source=source)
            output = render_sample(kind=kind, part=part, source=source, language=language)
        except (TemplateProblem, DomainError) as exc:
            return JsonResponse({"ok": False, "error": str(exc), "variables": KINDS[kind].variable_names})
        answer: dict[str, Any] = {
            "ok": True,
            "output": output,
            "html": part == TemplatePart.EMAIL_HTML,
            "variables": KINDS[kind].variable_names,
            "shipped": shipped_source(kind, part),
        }
        if part == TemplatePart.SMS:
            answer["segments"] = str(sms_segments(output))
        return JsonResponse(answer)

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        context["preview_url"] = reverse("admin:notifications_notificationtemplate_preview")
        return super().render_change_form(request, context, *args, **kwargs)


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin[NotificationPreference]):
    list_display = ["account", "quiet_hours_enabled", "sms_quiet_hours_start", "sms_quiet_hours_end"]
    autocomplete_fields = ["account"]
    search_fields = ["account__name", "=account__number"]
