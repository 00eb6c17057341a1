"""Provider status callbacks: anymail's tracking signal (any ESP) and Twilio's status POSTs.

Both only translate the provider's word into `notification_record_provider_status`.
"""

from __future__ import annotations

import logging
from typing import Any

from anymail.signals import AnymailTrackingEvent, tracking
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_tenants.utils import get_public_schema_name, schema_context
from twilio.request_validator import RequestValidator

from apps.core.tenancy import current_schema
from apps.notifications.channels.sms import status_callback_url
from apps.notifications.delivery import notification_record_provider_status
from apps.notifications.models import Channel

logger = logging.getLogger(__name__)


def on_anymail_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """An ESP's tracking webhook (validated by anymail): delivered, bounced, rejected, ..."""
    tenant = (event.metadata or {}).get("tenant") or ""
    schema = current_schema()
    if schema == get_public_schema_name():
        if not tenant:
            logger.warning("%s tracking event %s carries no tenant; ignored", esp_name, event.message_id)
            return
        with schema_context(tenant):
            _record_email(event)
    elif not tenant or tenant == schema:
        _record_email(event)


def _record_email(event: AnymailTrackingEvent) -> None:
    notification_record_provider_status(
        channel=Channel.EMAIL,
        provider_message_id=event.message_id or "",
        provider_status=str(event.event_type),
        error=event.description or event.mta_response or "",
    )


def connect_signals() -> None:
    tracking.connect(on_anymail_tracking, dispatch_uid="notifications.anymail_tracking")


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's StatusCallback for one message, signed with X-Twilio-Signature."""
    url = status_callback_url(current_schema())
    params = {key: request.POST.get(key, "") for key in request.POST}
    signature = request.headers.get("X-Twilio-Signature", "")
    if (
        not settings.TWILIO_AUTH_TOKEN
        or not url
        or not RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature)
    ):
        return HttpResponseForbidden("invalid Twilio signature")
    error_code = params.get("ErrorCode", "")
    notification_record_provider_status(
        channel=Channel.SMS,
        provider_message_id=params.get("MessageSid", ""),
        provider_status=params.get("MessageStatus", ""),
        error=f"Twilio error {error_code}: {params.get('ErrorMessage', '')}".strip() if error_code else "",
    )
    return HttpResponse(status=204)
