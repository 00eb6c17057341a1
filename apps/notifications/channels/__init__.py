"""Channels behind one interface (`ChannelBackend.send(message) -> SendResult`)."""

from __future__ import annotations

from django.conf import settings

from apps.notifications.channels.base import ChannelBackend
from apps.notifications.channels.email import EmailChannel
from apps.notifications.channels.push import PushChannel
from apps.notifications.channels.sms import LoggedSmsChannel, TwilioSmsChannel
from apps.notifications.channels.webhook import WebhookChannel


def channel_backend(channel: str) -> ChannelBackend:
    """The backend for `channel`, as configured now (settings are read on each call)."""
    if channel == "email":
        return EmailChannel()
    if channel == "sms":
        return TwilioSmsChannel() if settings.TWILIO_ACCOUNT_SID else LoggedSmsChannel()
    if channel == "push":
        return PushChannel()
    if channel == "webhook":
        return WebhookChannel()
    raise ValueError(f"unknown channel {channel!r}")
