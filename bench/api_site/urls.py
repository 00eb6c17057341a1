"""The public host's URLs plus `/api/v1/bench/noop/`, the benchmark's baseline.

The no-op view goes through everything a resource goes through before its own work (the
API edge middleware, bearer authentication with the tenant switch, the billing.read role
check, the Redis rate limit, JSON rendering) and then answers a constant.
"""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.permissions import BillingAccess
from billing_project.urls_public import urlpatterns as public_urlpatterns


class NoopView(APIView):
    """A minimal authenticated JSON view: the same credential, role and throttle checks as any resource."""

    permission_classes = [BillingAccess]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [path("api/v1/bench/noop/", NoopView.as_view(), name="bench-noop"), *public_urlpatterns]
