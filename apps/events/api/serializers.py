"""Request and response shapes of `events/` and `webhook-endpoints/`."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.tenancy import current_schema
from apps.events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint

EVENT_EXAMPLE: dict[str, Any] = {
    "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "type": "invoice.finalized",
    "tenant": "acme-isp",
    "sequence": 121,
    "created_at": "2026-11-25T09:30:00Z",
    "api_version": "v1",
    "data": {"invoice": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "account": "5b0e7c1e-2f4b-4f0e-9d4a-1c2b3d4e5f60"},
}
ENDPOINT_EXAMPLE: dict[str, Any] = {
    "id": "a8098c1a-f86e-11da-bd1a-00112444be1e",
    "url": "https://platform.example.com/hooks/billing",
    "description": "Service provisioning",
    "event_types": ["invoice.*", "payment.succeeded"],
    "enabled": True,
    "disabled_reason": "",
    "batch_size": 1,
    "batch_window_seconds": 5,
    "previous_secret_expires_at": None,
    "created_at": "2026-11-25T09:30:00Z",
    "updated_at": "2026-11-25T09:30:00Z",
}
SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - documentation example
ATTEMPT_EXAMPLE: dict[str, Any] = {
    "attempted_at": "2026-11-25T09:30:01Z",
    "status_code": 503,
    "latency_ms": 120,
    "response_snippet": "upstream unavailable",
    "error": "",
}
DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": "9b2e4ff7-2b9c-4a4e-9f0e-1d2c3b4a5f60",
    "event": EVENT_EXAMPLE["id"],
    "event_type": "invoice.finalized",
    "endpoint": ENDPOINT_EXAMPLE["id"],
    "message_id": "msg_9b2e4ff72b9c4a4e9f0e1d2c3b4a5f60",
    "status": "pending",
    "attempt_count": 1,
    "next_attempt_at": "2026-11-25T09:30:31Z",
    "last_status_code": 503,
    "last_error": "",
    "created_at": "2026-11-25T09:30:00Z",
    "delivered_at": None,
    "attempts": [ATTEMPT_EXAMPLE],
}


class EventOutput(serializers.ModelSerializer[Event]):
    """The envelope of ARCHITECTURE.md §4, as webhooks receive it."""

    tenant = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["id", "type", "tenant", "sequence", "created_at", "api_version", "data"]
        read_only_fields = fields

    def get_tenant(self, obj: Event) -> str:
        return current_schema()


class EndpointOutput(serializers.ModelSerializer[WebhookEndpoint]):
    class Meta:
        model = WebhookEndpoint
        fields = list(ENDPOINT_EXAMPLE)
        read_only_fields = fields


class EndpointWithSecretOutput(EndpointOutput):
    """Only in the answers to create and rotate-secret: the signing secret, shown once."""

    secret = serializers.CharField(read_only=True)

    class Meta(EndpointOutput.Meta):
        fields = [*EndpointOutput.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointCreateInput(serializers.Serializer[dict[str, Any]]):
    url = serializers.URLField(max_length=2000)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=100),
        min_length=1,
        max_length=100,
        help_text='Exact types, "<noun>.*" patterns, or ["*"] for all.',
    )
    enabled = serializers.BooleanField(required=False, default=True)
    batch_size = serializers.IntegerField(min_value=1, max_value=100, required=False, default=1)
    batch_window_seconds = serializers.IntegerField(min_value=1, max_value=300, required=False, default=5)


class EndpointUpdateInput(EndpointCreateInput):
    pass


class AttemptOutput(serializers.ModelSerializer[DeliveryAttempt]):
    class Meta:
        model = DeliveryAttempt
        fields = list(ATTEMPT_EXAMPLE)
        read_only_fields = fields


class DeliveryOutput(serializers.ModelSerializer[Delivery]):
    event_type = serializers.CharField(source="event.type", read_only=True)
    message_id = serializers.CharField(read_only=True)
    attempts = AttemptOutput(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = list(DELIVERY_EXAMPLE)
        read_only_fields = fields


class ReplayInput(serializers.Serializer[dict[str, Any]]):
    since = serializers.DateTimeField(required=False, help_text="Failed deliveries created at or after this time.")
    until = serializers.DateTimeField(required=False, help_text="... and before this time.")


class PingOutput(serializers.Serializer[dict[str, Any]]):
    delivered = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField()
    response_snippet = serializers.CharField()
    error = serializers.CharField()
