"""The API's edge: request ids, version headers, and problem+json for every error under /api/.

Placed first in MIDDLEWARE so that it sees every response, including the ones other
middleware or Django itself produce (unknown host, technical 404/500 pages with DEBUG).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.core.api.problems import as_problem, is_problem, problem_response
from billing_project import API_VERSION, PLATFORM_COMPATIBLE_VERSIONS

API_PREFIX = "/api/"
# Accepted X-Request-ID values: what tracing systems send (UUIDs, hex, ULIDs, dotted ids).
# Anything else (spaces, control characters, very long values) is replaced, never logged.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def request_id_of(header_value: str | None) -> str:
    """The caller's X-Request-ID when it is a sane token, else a fresh one."""
    if header_value and REQUEST_ID_PATTERN.fullmatch(header_value):
        return header_value
    return uuid.uuid4().hex


class ApiEdgeMiddleware:
    """X-Request-ID in and out, X-Platform-Version checked, X-Billing-API-Version on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_of(request.headers.get("X-Request-ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        # Loggers that read the header (django-structlog) see the validated value.
        request.META["HTTP_X_REQUEST_ID"] = request_id

        response = self._api_response(request) if is_api_request(request) else self.get_response(request)
        response["X-Billing-API-Version"] = API_VERSION
        response["X-Request-ID"] = request_id
        return response

    def _api_response(self, request: HttpRequest) -> HttpResponse:
        platform_version = request.headers.get("X-Platform-Version")
        if platform_version is not None and platform_version.strip() not in PLATFORM_COMPATIBLE_VERSIONS:
            supported = ", ".join(PLATFORM_COMPATIBLE_VERSIONS)
            return problem_response(
                400,
                type_slug="unsupported-platform-version",
                title="Unsupported platform version",
                detail=f"X-Platform-Version {platform_version.strip()[:40]!r} is not supported; "
                f"this billing API supports platform versions {supported}.",
                supported_versions=list(PLATFORM_COMPATIBLE_VERSIONS),
            )
        response = self.get_response(request)
        if response.status_code >= 400 and not is_problem(response):
            return as_problem(response)
        return response
