"""Push: a signed POST to the platform's push relay, which delivers to the subscriber's app.

Signed like our webhooks (Standard Webhooks: webhook-id, webhook-timestamp,
webhook-signature `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, secret `whsec_...`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx
from django.conf import settings

from apps.notifications.channels.base import (
    OutgoingMessage,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)


def _secret_bytes(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def sign(*, message_id: str, timestamp: int, body: bytes, secret: str) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class PushChannel:
    name = "push"

    def send(self, message: OutgoingMessage) -> SendResult:
        url = settings.PUSH_RELAY_URL
        if not url:
            raise PermanentChannelError("push relay not configured (PUSH_RELAY_URL)")
        body = json.dumps(
            {
                "id": message.notification_id,
                "tenant": message.tenant,
                "subscriber": message.recipient,
                "kind": message.kind,
                "title": message.rendered.subject,
                "body": message.rendered.text,
            }
        ).encode()
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": message.notification_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(
                message_id=message.notification_id, timestamp=timestamp, body=body, secret=settings.PUSH_RELAY_SECRET
            ),
        }
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            raise TransientChannelError(f"push relay unreachable: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientChannelError(f"push relay answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentChannelError(f"push relay refused: {response.status_code} {response.text[:200]}")
        try:
            relay_id = str(response.json().get("id", ""))
        except (ValueError, AttributeError):
            relay_id = ""
        return SendResult(provider_message_id=relay_id)
