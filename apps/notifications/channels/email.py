"""Email through Django's mail API, so any backend works: an anymail ESP (Postmark, Mailgun,
... chosen by EMAIL_BACKEND / ANYMAIL_*), SMTP (EMAIL_URL=smtp://...) or the console (dev)."""

from __future__ import annotations

import smtplib

from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.conf import settings

from apps.core.metrics import observe_http_call
from apps.notifications.channels.base import (
    OutgoingMessage,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)

REFUSED_STATUSES = {"rejected", "invalid", "failed"}


class EmailChannel:
    name = "email"

    def send(self, message: OutgoingMessage) -> SendResult:
        email = AnymailMessage(
            subject=message.rendered.subject,
            body=message.rendered.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.recipient],
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
