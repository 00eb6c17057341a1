"""Webhook endpoint services: create, update, rotate the secret, delete, ping, replay."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.core.errors import ValidationFailed
from apps.core.tenancy import current_schema
from apps.events.catalogue import CATALOGUE
from apps.events.delivery import Outcome, post_signed
from apps.events.models import Delivery, DeliveryStatus, EndpointKind, WebhookEndpoint
from apps.events.signing import new_secret
from apps.events.ssrf import UnsafeTarget, check_url


def clean_event_types(event_types: Sequence[str]) -> list[str]:
    """Exact catalogue types, `<noun>.*` patterns, or `*`; at least one."""
    cleaned: list[str] = []
    nouns = {name.split(".")[0] for name in CATALOGUE}
    for item in event_types:
        value = str(item).strip()
        known = value == "*" or value in CATALOGUE or (value.endswith(".*") and value[:-2] in nouns)
        if not known:
            raise ValidationFailed(
                f"unknown event type {value!r}: use a catalogue type, '<noun>.*' or '*'", field="event_types"
            )
        if value not in cleaned:
            cleaned.append(value)
    if not cleaned:
        raise ValidationFailed("subscribe to at least one event type ('*' for all)", field="event_types")
    return cleaned


def clean_url(url: str) -> str:
    try:
        check_url(url)
    except UnsafeTarget as exc:
        raise ValidationFailed(f"URL refused: {exc}", field="url") from exc
    return url


def _check_batch(batch_size: int, batch_window_seconds: int) -> None:
    if not 1 <= batch_size <= settings.WEBHOOK_MAX_BATCH_SIZE:
        raise ValidationFailed(f"batch_size must be between 1 and {settings.WEBHOOK_MAX_BATCH_SIZE}")
    if not 1 <= batch_window_seconds <= 300:
        raise ValidationFailed("batch_window_seconds must be between 1 and 300")


def endpoint_create(
    *,
    url: str,
    event_types: Sequence[str],
    description: str = "",
    enabled: bool = True,
    batch_size: int = 1,
    batch_window_seconds: int = 5,
) -> WebhookEndpoint:
    """A new endpoint with a fresh `whsec_` secret (show it to the caller once)."""
    _check_batch(batch_size, batch_window_seconds)
    return WebhookEndpoint.objects.create(
        url=clean_url(url),
        event_types=clean_event_types(event_types),
        description=description,
        enabled=enabled,
        batch_size=batch_size,
        batch_window_seconds=batch_window_seconds,
        secret=new_secret(),
    )


def endpoint_update(*, endpoint: WebhookEndpoint, **fields: Any) -> WebhookEndpoint:
    """Change url, description, event_types, enabled or batch settings (re-enabling clears the reason)."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if "url" in fields:
            locked.url = clean_url(fields.pop("url"))
        if "event_types" in fields:
            locked.event_types = clean_event_types(fields.pop("event_types"))
        if fields.get("enabled") and not locked.enabled:
            locked.disabled_reason = ""
            locked.failing_since = None
        for name in ("description", "enabled", "batch_size", "batch_window_seconds"):
            if name in fields:
                setattr(locked, name, fields[name])
        _check_batch(locked.batch_size, locked.batch_window_seconds)
        locked.save()
    return locked


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """New secret; the old one keeps signing (a second signature) for WEBHOOK_SECRET_OVERLAP_HOURS."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
        locked.secret = new_secret()
        locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return locked


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its delivery log."""
    if endpoint.kind == EndpointKind.PLATFORM:
        raise ValidationFailed("the platform endpoint comes from settings and cannot be deleted")
    endpoint.delete()


def endpoint_ping(*, endpoint: WebhookEndpoint) -> Outcome:
    """POST a signed `webhook_endpoint.ping` message now and report the answer (nothing is stored)."""
    from apps.events.delivery import endpoint_target

    now = timezone.now()
    envelope = {
        "id": str(uuid.uuid4()),
        "type": "webhook_endpoint.ping",
        "tenant": current_schema(),
        "sequence": None,
        "created_at": now.isoformat(),
        "api_version": "v1",
        "data": {"endpoint": str(endpoint.id)},
    }
    url, secrets = endpoint_target(endpoint)
    body = json.dumps(envelope, separators=(",", ":")).encode()
    return post_signed(url, secrets, f"ping_{uuid.uuid4().hex}", body, guard=endpoint.kind != EndpointKind.PLATFORM)


def delivery_replay(*, delivery: Delivery) -> Delivery:
    """Send a delivery again (same webhook-id), whatever its state: it is due now."""
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), lease_until=None, batch_id=None
    )
    delivery.refresh_from_db()
    _enqueue_after_commit([delivery])
    return delivery


def deliveries_replay_failed(
    *, endpoint: WebhookEndpoint, since: datetime | None = None, until: datetime | None = None
) -> int:
    """Replay every failed delivery of the endpoint created in [since, until); returns how many."""
    failed: QuerySet[Delivery] = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.FAILED)
    if since is not None:
        failed = failed.filter(created_at__gte=since.astimezone(UTC))
    if until is not None:
        failed = failed.filter(created_at__lt=until.astimezone(UTC))
    ids = list(failed.values_list("id", flat=True)[: settings.WEBHOOK_MAX_REPLAY])
    Delivery.objects.filter(id__in=ids).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), lease_until=None, batch_id=None
    )
    _enqueue_after_commit(list(Delivery.objects.filter(id__in=ids).select_related("endpoint")))
    return len(ids)


def _enqueue_after_commit(deliveries: list[Delivery]) -> None:
    from apps.events.publishers import enqueue

    schema = current_schema()
    single = any(not d.endpoint.batched for d in deliveries)
    batched = list({d.endpoint_id: d.endpoint for d in deliveries if d.endpoint.batched}.values())
    transaction.on_commit(lambda: enqueue(schema, single, batched))
