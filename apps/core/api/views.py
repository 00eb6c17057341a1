"""API endpoints that belong to no resource: the version matrix and the catch-all 404."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from apps.core.api.fields import UUID_PATTERN
from apps.core.api.filters import FilterBackend
from apps.core.api.permissions import BillingAccess
from apps.core.api.problems import problem_response
from billing_project import (
    API_VERSION,
    MIN_PLATFORM_VERSION,
    PLATFORM_API_VERSION,
    PLATFORM_COMPATIBLE_VERSIONS,
    SDK_VERSION,
)


def version_info() -> dict[str, object]:
    return {
        "api_version": API_VERSION,
        "sdk_version": SDK_VERSION,
        "platform_api_version": PLATFORM_API_VERSION,
        "platform_compatible_versions": list(PLATFORM_COMPATIBLE_VERSIONS),
        "min_platform_version": MIN_PLATFORM_VERSION,
    }


VersionSerializer = inline_serializer(
    "Version",
    fields={
        "api_version": serializers.CharField(),
        "sdk_version": serializers.CharField(),
        "platform_api_version": serializers.CharField(),
        "platform_compatible_versions": serializers.ListField(child=serializers.CharField()),
        "min_platform_version": serializers.CharField(),
    },
)


class VersionView(APIView):
    """The API and SDK versions and the platform versions this API works with."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="version_retrieve",
        summary="API version and compatible platform versions",
        tags=["version"],
        responses={200: VersionSerializer},
        examples=[OpenApiExample("Current versions", value=version_info(), response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response(version_info())


@csrf_exempt
def api_not_found(request: HttpRequest) -> HttpResponse:
    """Any /api/ URL that matches nothing: a problem, never an HTML page (also with DEBUG)."""
    detail = f"No API endpoint at {request.path_info}."
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/", getattr(request, "urlconf", None))
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail += f" API paths end with a slash: {request.path_info}/"
    return problem_response(404, detail=detail)


_M = TypeVar("_M", bound=Model)


class ResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[_M]):
    """A tenant resource: list (newest first, cursor-paginated) and retrieve by UUID, billing roles.

    Resources add `create` and their action sub-paths, each calling its service, and answer
    with `respond` (the fresh representation) or `respond_created` (201 with Location).
    """

    permission_classes = [BillingAccess]
    filter_backends = [FilterBackend, OrderingFilter]
    lookup_value_regex = UUID_PATTERN
    ordering = ["-created_at"]

    def respond(self, instance: _M, status: int = 200, *, read_back: bool = True) -> Response:
        """The object as it is now in the database, read through this resource's queryset.

        `read_back=False` when the service returns the object exactly as it has just written it,
        with the relations the serializer reads already prefetched (payment_record does): reading
        it again would only repeat it.
        """
        fresh = self.get_queryset().get(pk=instance.pk) if read_back else instance
        return Response(self.get_serializer(fresh).data, status=status)

    def respond_created(self, instance: _M, *, read_back: bool = True) -> Response:
        response = self.respond(instance, status=201, read_back=read_back)
        response["Location"] = reverse(f"api:{self.basename}-detail", kwargs={"pk": instance.pk}, request=self.request)
        return response
