"""`notifications/`: the delivery log, read only (sending happens through the ledger's
actions and dunning; resending from the admin)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

from apps.core.api.views import ResourceViewSet
from apps.notifications.api.serializers import NOTIFICATION_EXAMPLE, NotificationOutput
from apps.notifications.models import Channel, Kind, Notification, Status

EXAMPLE = [OpenApiExample("A notification", value=NOTIFICATION_EXAMPLE, response_only=True)]


class NotificationFilter(django_filters.FilterSet):
    account = django_filters.UUIDFilter(field_name="account_id")
    invoice = django_filters.UUIDFilter(field_name="invoice_id")
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    status = django_filters.ChoiceFilter(choices=Status.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)

    class Meta:
        model = Notification
        fields = ["account", "invoice", "kind", "status", "channel"]


@extend_schema_view(
    list=extend_schema(
        summary="List notifications",
        description="Filter by `account`, `invoice`, `kind`, `status`, `channel`.",
        examples=EXAMPLE,
    ),
    retrieve=extend_schema(summary="Get a notification", examples=EXAMPLE),
)
@extend_schema(tags=["notifications"])
class NotificationViewSet(ResourceViewSet[Notification]):
    """Every message sent (or refused) to an account, with its delivery status."""

    serializer_class = NotificationOutput
    filterset_class = NotificationFilter
    ordering_fields = ["created_at"]
    http_method_names = ["get", "head", "options"]

    def get_queryset(self) -> QuerySet[Notification]:
        return Notification.objects.all()
