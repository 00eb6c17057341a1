"""`events/` (reconcile what you missed) and `webhook-endpoints/`, `webhook-deliveries/`."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api.filters import IsoDateTimeFilter
from apps.core.api.permissions import BillingAdmin, BillingRead
from apps.core.api.views import ResourceViewSet
from apps.events.api.serializers import (
    DELIVERY_EXAMPLE,
    ENDPOINT_EXAMPLE,
    EVENT_EXAMPLE,
    SECRET_EXAMPLE,
    DeliveryOutput,
    EndpointCreateInput,
    EndpointOutput,
    EndpointUpdateInput,
    EndpointWithSecretOutput,
    EventOutput,
    PingOutput,
    ReplayInput,
)
from apps.events.models import Delivery, DeliveryAttempt, DeliveryStatus, EndpointKind, Event, WebhookEndpoint
from apps.events.webhooks import (
    deliveries_replay_failed,
    delivery_replay,
    endpoint_create,
    endpoint_delete,
    endpoint_ping,
    endpoint_rotate_secret,
    endpoint_update,
)

# The idempotency store must not keep a secret: replays of these answers carry "secret": null.
SECRET_FIELDS = ("secret",)


def _ex(name: str, value: Any, **kwargs: Any) -> list[OpenApiExample]:
    return [OpenApiExample(name, value=value, response_only=True, **kwargs)]


class EventFilter(django_filters.FilterSet):
    type = django_filters.CharFilter(method="filter_type", help_text='Exact type, or "<noun>.*".')
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    after_sequence = django_filters.NumberFilter(
        field_name="sequence", lookup_expr="gt", help_text="Only events after this sequence number."
    )

    class Meta:
        model = Event
        fields = ["type", "created_after", "created_before", "after_sequence"]

    def filter_type(self, queryset: QuerySet[Event], name: str, value: str) -> QuerySet[Event]:
        if value.endswith(".*"):
            return queryset.filter(type__startswith=value[:-1])
        return queryset.filter(type=value)


@extend_schema_view(
    list=extend_schema(
        summary="List events",
        description="Oldest first by `sequence`; `after_sequence=N` returns what came after N (commit order).",
        examples=_ex("An event", EVENT_EXAMPLE),
    ),
    retrieve=extend_schema(summary="Get an event", examples=_ex("An event", EVENT_EXAMPLE)),
)
@extend_schema(tags=["events"])
class EventViewSet(ResourceViewSet[Event]):
    """The tenant's event log (the outbox), as webhooks receive it."""

    serializer_class = EventOutput
    filterset_class = EventFilter
    ordering = ["sequence"]
    ordering_fields = ["sequence"]

    def get_queryset(self) -> QuerySet[Event]:
        return Event.objects.all()


class ReadOrAdmin(BasePermission):
    """billing.read to look, billing.admin to change where events go."""

    message = "This credential does not allow this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        check = BillingRead() if request.method in SAFE_METHODS else BillingAdmin()
        allowed = check.has_permission(request, view)
        if not allowed:
            self.message = check.message
        return allowed


ENDPOINT_CREATED = {**ENDPOINT_EXAMPLE, "secret": SECRET_EXAMPLE}


@extend_schema_view(
    list=extend_schema(summary="List webhook endpoints", examples=_ex("An endpoint", ENDPOINT_EXAMPLE)),
    retrieve=extend_schema(summary="Get a webhook endpoint", examples=_ex("An endpoint", ENDPOINT_EXAMPLE)),
)
@extend_schema(tags=["webhooks"])
class WebhookEndpointViewSet(ResourceViewSet[WebhookEndpoint]):
    """Where events are POSTed; the secret appears only in the create and rotate-secret answers."""

    serializer_class = EndpointOutput
    permission_classes = [ReadOrAdmin]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.filter(kind=EndpointKind.TENANT)

    def _with_secret(self, endpoint: WebhookEndpoint, status: int = 200) -> Response:
        response = Response(EndpointWithSecretOutput(endpoint).data, status=status)
        response.idempotency_redact = SECRET_FIELDS  # type: ignore[attr-defined]
        return response

    @extend_schema(
        summary="Create a webhook endpoint",
        description="The answer holds `secret` (`whsec_...`): store it, it is never shown again.",
        request=EndpointCreateInput,
        responses={201: EndpointWithSecretOutput},
        examples=[
            OpenApiExample(
                "Subscribe",
                value={"url": ENDPOINT_EXAMPLE["url"], "event_types": ["invoice.*", "payment.succeeded"]},
                request_only=True,
            ),
            *_ex("Created", ENDPOINT_CREATED, status_codes=["201"]),
        ],
    )
    def create(self, request: Request) -> Response:
        data = EndpointCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_create(**data.validated_data)
        response = self._with_secret(endpoint, status=201)
        response["Location"] = f"{request.build_absolute_uri()}{endpoint.pk}/"
        return response

    @extend_schema(
        summary="Update a webhook endpoint",
        request=EndpointUpdateInput,
        responses={200: EndpointOutput},
        examples=[
            OpenApiExample("Disable", value={"enabled": False}, request_only=True),
            *_ex("Updated", ENDPOINT_EXAMPLE),
        ],
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        data = EndpointUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return self.respond(endpoint_update(endpoint=self.get_object(), **data.validated_data))

    @extend_schema(summary="Delete a webhook endpoint", request=None, responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        endpoint_delete(endpoint=self.get_object())
        return Response(status=204)

    @extend_schema(
        summary="Rotate the signing secret",
        description="A new secret, shown once; the old one keeps signing (a second signature) for 24 h.",
        request=None,
        responses={200: EndpointWithSecretOutput},
        examples=_ex("Rotated", ENDPOINT_CREATED),
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        return self._with_secret(endpoint_rotate_secret(endpoint=self.get_object()))

    @extend_schema(
        summary="Send a test message",
        description="POSTs a signed `webhook_endpoint.ping` now and reports the answer.",
        request=None,
        responses={200: PingOutput},
        examples=_ex(
            "Answered",
            {"delivered": True, "status_code": 200, "latency_ms": 42, "response_snippet": "ok", "error": ""},
        ),
    )
    @action(detail=True, methods=["post"])
    def ping(self, request: Request, pk: str) -> Response:
        outcome = endpoint_ping(endpoint=self.get_object())
        return Response(
            {
                "delivered": outcome.ok,
                "status_code": outcome.status_code,
                "latency_ms": outcome.latency_ms,
                "response_snippet": outcome.snippet,
                "error": outcome.error,
            }
        )

    @extend_schema(
        summary="Replay failed deliveries",
        description="Send again every failed delivery of this endpoint created in [since, until).",
        request=ReplayInput,
        responses={200: inline_serializer("ReplayResult", fields={"replayed": serializers.IntegerField()})},
        examples=[
            OpenApiExample(
                "A day", value={"since": "2026-11-24T00:00:00Z", "until": "2026-11-25T00:00:00Z"}, request_only=True
            ),
            *_ex("Queued", {"replayed": 12}),
        ],
    )
    @action(detail=True, methods=["post"], url_path="replay-failed")
    def replay_failed(self, request: Request, pk: str) -> Response:
        data = ReplayInput(data=request.data)
        data.is_valid(raise_exception=True)
        count = deliveries_replay_failed(endpoint=self.get_object(), **data.validated_data)
        return Response({"replayed": count})


class DeliveryFilter(django_filters.FilterSet):
    endpoint = django_filters.UUIDFilter(field_name="endpoint_id")
    event = django_filters.UUIDFilter(field_name="event_id")
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)

    class Meta:
        model = Delivery
        fields = ["endpoint", "event", "status"]


@extend_schema_view(
    list=extend_schema(summary="List webhook deliveries", examples=_ex("A delivery", DELIVERY_EXAMPLE)),
    retrieve=extend_schema(summary="Get a delivery with its attempts", examples=_ex("A delivery", DELIVERY_EXAMPLE)),
)
@extend_schema(tags=["webhooks"])
class DeliveryViewSet(ResourceViewSet[Delivery]):
    """The delivery log: one row per (event, endpoint) with every attempt; `replay/` sends it again."""

    serializer_class = DeliveryOutput
    filterset_class = DeliveryFilter
    permission_classes = [ReadOrAdmin]

    def get_queryset(self) -> QuerySet[Delivery]:
        attempts = Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("-attempted_at"))
        return (
            Delivery.objects.filter(endpoint__kind=EndpointKind.TENANT)
            .select_related("event")
            .prefetch_related(attempts)
        )

    @extend_schema(
        summary="Replay a delivery",
        description="Send it again now with the same `webhook-id`, whatever its state.",
        request=None,
        responses={200: DeliveryOutput},
        examples=_ex("Queued", {**DELIVERY_EXAMPLE, "status": "pending"}),
    )
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str) -> Response:
        return self.respond(delivery_replay(delivery=self.get_object()))
