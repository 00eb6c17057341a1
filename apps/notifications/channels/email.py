"""Email through Django's mail API, so any backend works: an anymail ESP (Postmark, Mailgun,
... chosen by EMAIL_BACKEND / ANYMAIL_*), SMTP (EMAIL_URL=smtp://...) or the console (dev).

An anymail HTTP backend is kept open per process and thread, so a worker sending many
messages reuses its HTTP session (one TLS handshake, keep-alive) instead of opening a new one
per message; requests checks a pooled connection before reusing it. Other backends (SMTP,
whose server may drop an idle session; console; locmem) get a new connection per message.
"""

from __future__ import annotations

import os
import smtplib
import threading
from typing import Any

from anymail.backends.base_requests import AnymailRequestsBackend
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.conf import settings
from django.core.mail import get_connection
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from apps.core.metrics import observe_http_call
from apps.notifications.channels.base import (
    OutgoingMessage,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)

REFUSED_STATUSES = {"rejected", "invalid", "failed"}

_local = threading.local()


def reusable_connection() -> Any | None:
    """This process's and thread's open anymail HTTP backend, or None (a backend per message).

    Keyed by PID (a forked child, as in Celery's prefork pool, never shares its parent's
    sockets) and by the settings the backend read when it was made.
    """
    if not issubclass(import_string(settings.EMAIL_BACKEND), AnymailRequestsBackend):
        return None
    key = (os.getpid(), settings.EMAIL_BACKEND, repr(getattr(settings, "ANYMAIL", None)))
    held = getattr(_local, "held", None)
    if held is None or held[0] != key:
        close_reusable_connection()
        connection = get_connection()
        connection.open()
        held = _local.held = (key, connection)
    return held[1]


def close_reusable_connection() -> None:
    held = getattr(_local, "held", None)
    _local.held = None
    if held is not None and held[0][0] == os.getpid():
        held[1].close()


@receiver(setting_changed, dispatch_uid="notifications.email_connection_settings")
def _settings_changed(*, setting: str, **_: Any) -> None:
    # The backend read its settings when it was made (tests change them).
    if setting.startswith(("EMAIL_", "ANYMAIL")):
        close_reusable_connection()


class EmailChannel:
    name = "email"

    def send(self, message: OutgoingMessage) -> SendResult:
        email = AnymailMessage(
            subject=message.rendered.subject,
            body=message.rendered.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.recipient],
            connection=reusable_connection(),
        )
        email.attach_alternative(message.rendered.html, "text/html")
        for attachment in message.attachments:
            email.attach(attachment.filename, attachment.content, attachment.mimetype)
        email.metadata = {"tenant": message.tenant, "notification": message.notification_id, **message.metadata}
        email.tags = [message.kind]
        email.track_clicks = False
        try:
            _send_counted(email)
        except AnymailRecipientsRefused as exc:
            raise PermanentChannelError(f"recipient refused: {exc}") from exc
        except AnymailAPIError as exc:
            raise _classify_http(exc.status_code, str(exc).splitlines()[0]) from exc
        except AnymailError as exc:
            raise PermanentChannelError(str(exc).splitlines()[0]) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentChannelError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            # SMTP: 4xx is "try again later", 5xx a refusal.
            error_class = TransientChannelError if 400 <= exc.smtp_code < 500 else PermanentChannelError
            raise error_class(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientChannelError(f"mail server unreachable: {exc}") from exc
        status = getattr(email, "anymail_status", None)
        message_id = getattr(status, "message_id", None) or ""
        statuses = set(getattr(status, "status", None) or ())
        if statuses and statuses <= REFUSED_STATUSES:
            raise PermanentChannelError(f"the provider refused the message ({', '.join(sorted(statuses))})")
        return SendResult(provider_message_id=str(message_id))


LOCAL_BACKENDS = ("locmem", "console", "filebased", "dummy")


def _send_counted(email: AnymailMessage) -> None:
    """Send; a call to an ESP or mail server is timed and counted as `esp` (local backends are not)."""
    backend = settings.EMAIL_BACKEND
    if backend.startswith("django.core.mail.backends.") and backend.split(".")[-2] in LOCAL_BACKENDS:
        email.send()
        return
    with observe_http_call("esp") as call:
        try:
            email.send()
        except AnymailAPIError as exc:
            call.status_code = exc.status_code
            raise


def _classify_http(code: int | None, text: str) -> Exception:
    """No answer, 429 and 5xx may pass later; other refusals will not."""
    if code is None or code == 429 or code >= 500:
        return TransientChannelError(text)
    return PermanentChannelError(text)
