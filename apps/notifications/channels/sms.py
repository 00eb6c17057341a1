"""SMS through the twilio SDK. `TWILIO_BASE_URL` points the real client at another host (a
local fake in tests and demos); without Twilio credentials messages are only logged."""

from __future__ import annotations

import functools
import logging
import uuid
from typing import Any

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from apps.core.metrics import observe_http_call
from apps.notifications.channels.base import (
    OutgoingMessage,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)

logger = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
# Twilio error codes that no retry will fix: invalid or unreachable "To", opted out, a
# landline, a number not SMS-capable, a "From" that is not ours.
PERMANENT_TWILIO_CODES = {21211, 21212, 21408, 21601, 21602, 21606, 21610, 21612, 21614, 21617, 21659, 20003, 20404}


class BaseUrlHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, sending what it would send to api.twilio.com to `base_url`."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


@functools.cache
def twilio_client(account_sid: str, auth_token: str, base_url: str) -> Client:
    http_client = BaseUrlHttpClient(base_url, timeout=10) if base_url else TwilioHttpClient(timeout=10)
    return Client(account_sid, auth_token, http_client=http_client)


def status_callback_url(tenant: str) -> str | None:
    """Where Twilio reports delivery for this tenant's messages (None: no callbacks)."""
    template = settings.NOTIFICATIONS_CALLBACK_BASE_URL
    if not template:
        return None
    base = template.format(host=f"{tenant}.{settings.BASE_DOMAIN}")
    return f"{base.rstrip('/')}/notifications/twilio/status/"


class TwilioSmsChannel:
    name = "sms"

    def send(self, message: OutgoingMessage) -> SendResult:
        client = twilio_client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_BASE_URL)
        params: dict[str, Any] = {
            "to": message.recipient,
            "from_": settings.TWILIO_FROM_NUMBER,
            "body": message.rendered.text,
        }
        callback = status_callback_url(message.tenant)
        if callback:
            params["status_callback"] = callback
        try:
            with observe_http_call("twilio") as call:
                try:
                    sent = client.messages.create(**params)
                except TwilioRestException as exc:
                    call.status_code = exc.status
                    raise
        except TwilioRestException as exc:
            text = f"Twilio {exc.status} error {exc.code}: {exc.msg}"
            if exc.code in PERMANENT_TWILIO_CODES or (400 <= exc.status < 500 and exc.status != 429):
                raise PermanentChannelError(text) from exc
            raise TransientChannelError(text) from exc
        except (TwilioException, requests.RequestException, OSError) as exc:
            raise TransientChannelError(f"Twilio unreachable: {exc}") from exc
        return SendResult(provider_message_id=str(sent.sid))


class LoggedSmsChannel:
    """No Twilio credentials (dev): the message is written to the log and counts as sent."""

    name = "sms"

    def send(self, message: OutgoingMessage) -> SendResult:
        logger.info("SMS to %s (Twilio not configured): %s", message.recipient, message.rendered.text)
        return SendResult(provider_message_id=f"logged-{uuid.uuid4().hex[:16]}")
