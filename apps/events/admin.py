"""Admin: the event log, webhook endpoints (secret shown once, rotate, ping, replay) and deliveries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.core.errors import DomainError
from apps.events.catalogue import all_types
from apps.events.models import Delivery, DeliveryAttempt, EndpointKind, Event, WebhookEndpoint
from apps.events.webhooks import (
    clean_event_types,
    clean_url,
    deliveries_replay_failed,
    delivery_replay,
    endpoint_create,
    endpoint_ping,
    endpoint_rotate_secret,
    endpoint_update,
)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin[Event]):
    list_display = ["sequence", "type", "subject", "created_at"]
    list_filter = ["type"]
    search_fields = ["subject", "type"]
    readonly_fields = ["id", "type", "subject", "sequence", "created_at", "api_version", "data"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EndpointForm(forms.ModelForm[WebhookEndpoint]):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types_text = forms.CharField(
        label="Event types",
        initial="*",
        help_text="Comma-separated: exact types (" + ", ".join(all_types()[:3]) + ", ...), invoice.* or *.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "enabled", "batch_size", "batch_window_seconds"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["event_types_text"].initial = ", ".join(self.instance.event_types)

    def clean_url(self) -> str:
        try:
            return clean_url(self.cleaned_data["url"])
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_event_types_text(self) -> list[str]:
        try:
            return clean_event_types([p for p in self.cleaned_data["event_types_text"].split(",") if p.strip()])
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin[WebhookEndpoint]):
    form = EndpointForm
    list_display = ["url", "description", "kind", "enabled", "event_types", "batch_size", "failing_since"]
    list_filter = ["enabled", "kind"]
    readonly_fields = ["kind", "disabled_reason", "failing_since", "previous_secret_expires_at", "created_at"]
    actions = ["rotate_secret", "ping", "replay_failed_day", "replay_failed_week"]

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        data = form.cleaned_data
        fields = {
            "url": data["url"],
            "description": data.get("description", ""),
            "enabled": data.get("enabled", True),
            "batch_size": data.get("batch_size") or 1,
            "batch_window_seconds": data.get("batch_window_seconds") or 5,
            "event_types": data["event_types_text"],
        }
        if change:
            saved = endpoint_update(endpoint=obj, **fields)
        else:
            saved = endpoint_create(**fields)
            messages.warning(request, f"Signing secret (shown once, store it now): {saved.secret}")
        obj.pk = saved.pk

    @admin.action(description="Rotate the signing secret (old one valid 24 h)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.filter(kind=EndpointKind.TENANT):
            rotated = endpoint_rotate_secret(endpoint=endpoint)
            messages.warning(request, f"{rotated.url}: new secret (shown once): {rotated.secret}")

    @admin.action(description="Send a test message (ping)")
    def ping(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            outcome = endpoint_ping(endpoint=endpoint)
            level = messages.SUCCESS if outcome.ok else messages.ERROR
            answer = outcome.status_code or outcome.error
            self.message_user(request, f"{endpoint.url}: {answer} in {outcome.latency_ms} ms", level)

    def _replay(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint], days: int) -> None:
        since = timezone.now() - timedelta(days=days)
        total = sum(deliveries_replay_failed(endpoint=endpoint, since=since) for endpoint in queryset)
        self.message_user(request, f"{total} failed deliveries queued again.")

    @admin.action(description="Replay failed deliveries of the last 24 hours")
    def replay_failed_day(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._replay(request, queryset, 1)

    @admin.action(description="Replay failed deliveries of the last 7 days")
    def replay_failed_week(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._replay(request, queryset, 7)


class AttemptInline(admin.TabularInline[DeliveryAttempt, Delivery]):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("attempted_at", "status_code", "latency_ms", "error", "response_snippet")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin[Delivery]):
    """The delivery log; filter by date and status, then replay the selection."""

    list_display = ["event", "endpoint", "status", "attempt_count", "last_status_code", "next_attempt_at", "created_at"]
    list_filter = ["status", "endpoint", "created_at"]
    date_hierarchy = "created_at"
    list_select_related = ["event", "endpoint"]
    readonly_fields = [
        "event",
        "endpoint",
        "status",
        "attempt_count",
        "next_attempt_at",
        "lease_until",
        "batch_id",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
    ]
    inlines = [AttemptInline]
    actions = ["replay"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Replay the selected deliveries (same webhook-id)")
    def replay(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = 0
        for delivery in queryset.select_related("endpoint")[:1000]:
            delivery_replay(delivery=delivery)
            count += 1
        self.message_user(request, f"{count} deliveries queued again.")
