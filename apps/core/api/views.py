"""API endpoints that belong to no resource: the version matrix and the catch-all 404."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

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
