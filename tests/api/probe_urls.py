"""The real /api/v1/ plus two minimal resources for the auth and idempotency tests.

`probe/` answers who called (the principal) and, on POST, publishes a `probe.created`
event in the credential's tenant schema: a cheap, countable effect with no unique
constraint that would hide a duplicate. `probe/admin/` needs billing.admin.
"""

from __future__ import annotations

from django.db import transaction
from django.urls import include, path, re_path
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.permissions import BillingAccess, BillingAdmin, request_principal
from apps.core.api.views import api_not_found
from apps.core.tenancy import current_schema
from apps.events.catalogue import EventType, register_event_type
from apps.events.services import publish

# A test-only event type: the catalogue holds only real ones.
register_event_type(EventType("probe.created", "Test probe (tests only).", (), {"name": {"type": "string"}}))


def _who(request: Request) -> dict:
    principal = request_principal(request)
    return {
        "sub": principal.sub,
        "tenant": principal.tenant,
        "kind": str(principal.kind),
        "roles": sorted(principal.roles),
        "caller": principal.caller,
        "schema": current_schema(),
    }


class BillingProbe(APIView):
    permission_classes = [BillingAccess]

    def get(self, request: Request) -> Response:
        return Response(_who(request))

    def post(self, request: Request) -> Response:
        name = request.data.get("name") if isinstance(request.data, dict) else None
        if not isinstance(name, str) or not name:
            raise ValidationError({"name": ["This field is required."]})
        with transaction.atomic():
            event = publish("probe.created", name, {"name": name, "caller": request_principal(request).caller})
        return Response({**_who(request), "event": str(event.id), "name": name}, status=201)


class AdminProbe(APIView):
    permission_classes = [BillingAdmin]

    def post(self, request: Request) -> Response:
        return Response(_who(request))


urlpatterns = [
    path("api/v1/probe/", BillingProbe.as_view()),
    path("api/v1/probe/admin/", AdminProbe.as_view()),
    path("api/v1/", include("billing_project.api_urls")),
    re_path(r"^api/", api_not_found),
]
