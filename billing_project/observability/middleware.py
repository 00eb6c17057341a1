"""Request metrics by route template, and the probe endpoints answered before host checks.

`RequestMetricsMiddleware` comes first in MIDDLEWARE so it times every response. The route
label is the matched URL pattern (`request.resolver_match.route`), never the raw path, so
`/api/v1/invoices/4f.../` and every other invoice count as `/api/v1/invoices/{id}/`.

`ProbeMiddleware` answers `/health/live`, `/health/ready` and `/metrics` before
TenantMiddleware (which validates the Host against ALLOWED_HOSTS): Kubernetes probes and
Prometheus send the pod IP as Host.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.core.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS, HTTP_REQUESTS_IN_PROGRESS

UNMATCHED_ROUTE = "<unmatched>"
API_VERSION_PATTERN = re.compile(r"^/api/(v\d+)/")
_CONVERTER = re.compile(r"(?<!\?P)<(?:[^>:]+:)?([^>]+)>")
_FORMAT_SUFFIX = re.compile(r"\\\.\(\?P<format>[^)]*\)/?")


def _replace_groups(pattern: str) -> str:
    """Replace regex groups (balanced parentheses) by `{name}`; `pk` becomes `{id}`."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(pattern[index + 1])
            index += 2
            continue
        if char == "(":
            depth, end = 1, index + 1
            while end < len(pattern) and depth:
                if pattern[end] == "\\":
                    end += 2
                    continue
                depth += {"(": 1, ")": -1}.get(pattern[end], 0)
                end += 1
            group = pattern[index:end]
            named = re.match(r"\(\?P<([^>]+)>", group)
            if group.startswith("(?:") or group.startswith("(?="):
                out.append("")
            else:
                out.append("{" + (named.group(1) if named else "param") + "}")
            index = end
            continue
        if char not in "^$?":
            out.append(char)
        index += 1
    return "".join(out)


def route_template(route: str) -> str:
    """`api/v1/^invoices/(?P<pk>[^/.]+)/$` -> `/api/v1/invoices/{id}/`; path converters likewise."""
    route = _FORMAT_SUFFIX.sub("", route)
    route = _CONVERTER.sub(lambda match: "{" + match.group(1) + "}", route)
    if "(" in route or "^" in route or "$" in route or "\\" in route:
        route = _replace_groups(route)
    route = route.replace("{pk}", "{id}")
    return "/" + route.lstrip("/")


def status_class(status_code: int) -> str:
    return f"{status_code // 100}xx"


def api_version_of(path: str) -> str:
    match = API_VERSION_PATTERN.match(path)
    return match.group(1) if match else "none"


class RequestMetricsMiddleware:
    """billing_http_requests_total and billing_http_request_duration_seconds per route template."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        HTTP_REQUESTS_IN_PROGRESS.inc()
        try:
            response = self.get_response(request)
        finally:
            HTTP_REQUESTS_IN_PROGRESS.dec()
        route = getattr(request, "metrics_route", None)
        if route is None:
            match = getattr(request, "resolver_match", None)
            route = route_template(match.route) if match is not None and match.route else UNMATCHED_ROUTE
        labels = {
            "route": route,
            "method": request.method if request.method in KNOWN_METHODS else "other",
            "status": status_class(response.status_code),
            "api_version": api_version_of(request.path_info),
        }
        HTTP_REQUESTS.labels(**labels).inc()
        HTTP_REQUEST_DURATION.labels(**labels).observe(time.perf_counter() - started)
        return response


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ProbeMiddleware:
    """Health probes and /metrics on any Host (before ALLOWED_HOSTS and tenant routing)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path in PROBE_PATHS:
            request.metrics_route = path  # type: ignore[attr-defined]
            return PROBE_PATHS[path](request)
        return self.get_response(request)


def _live(request: HttpRequest) -> HttpResponse:
    from billing_project.observability.health import live_view

    return live_view(request)


def _ready(request: HttpRequest) -> HttpResponse:
    from billing_project.observability.health import ready_view

    return ready_view(request)


def _metrics(request: HttpRequest) -> HttpResponse:
    from billing_project.observability.exposition import metrics_view

    return metrics_view(request)


PROBE_PATHS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/health/live": _live,
    "/health/live/": _live,
    "/health/ready": _ready,
    "/health/ready/": _ready,
    "/metrics": _metrics,
}
