"""The webhook channel: the message becomes a `notification.sent` event in the outbox, which
the events app delivers to every endpoint subscribed to it (signed, retried)."""

from __future__ import annotations

from apps.notifications.channels.base import OutgoingMessage, SendResult


class WebhookChannel:
    name = "webhook"

    def send(self, message: OutgoingMessage) -> SendResult:
        # Nothing leaves here: delivery records the send and publishes the event (with the
        # rendered title and body below) in the same transaction.
        return SendResult(event_data={"title": message.rendered.subject, "body": message.rendered.text})
