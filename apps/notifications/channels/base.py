"""The one interface every channel implements, and the two kinds of failure it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from apps.notifications.rendering import RenderedMessage


class ChannelError(Exception):
    """A send that did not happen."""


class TransientChannelError(ChannelError):
    """The provider may succeed later (5xx, 429, network): retried with back-off."""


class PermanentChannelError(ChannelError):
    """Retrying cannot help (invalid number, refused address, misconfiguration): failed now."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message on its way to one recipient."""

    notification_id: str
    tenant: str
    kind: str
    recipient: str
    rendered: RenderedMessage
    attachments: tuple[Attachment, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """What the provider answered: its message id, and extra data for the notification event."""

    provider_message_id: str = ""
    event_data: dict[str, Any] = field(default_factory=dict)


class ChannelBackend(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...
