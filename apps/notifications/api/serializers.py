"""Response shape of `notifications/`."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.notifications.models import Notification

NOTIFICATION_EXAMPLE: dict[str, Any] = {
    "id": "0f8b8c2e-6a59-4c8e-9a53-2d1f0e7b4a10",
    "account": "5b0e7c1e-2f4b-4f0e-9d4a-1c2b3d4e5f60",
    "invoice": "9d2c4f8e-1a3b-4c5d-8e7f-6a5b4c3d2e1f",
    "kind": "invoice_sent",
    "channel": "email",
    "priority": "normal",
    "status": "delivered",
    "recipient": "ada@example.com",
    "language": "en",
    "subject": "Your invoice INV-2026-000123",
    "provider_message_id": "0a129aee-e1cd-480d-b08d-4f48548ff48d",
    "attempts": 1,
    "last_error": "",
    "idempotency_key": "event:3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7",
    "send_after": None,
    "resend_of": None,
    "created_at": "2026-11-25T09:30:00Z",
    "sent_at": "2026-11-25T09:30:02Z",
    "delivered_at": "2026-11-25T09:30:09Z",
}


class NotificationOutput(serializers.ModelSerializer[Notification]):
    class Meta:
        model = Notification
        fields = list(NOTIFICATION_EXAMPLE)
        read_only_fields = fields
