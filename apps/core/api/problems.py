"""RFC 9457 problem details: the one shape of every error under /api/.

`exception_handler` is DRF's EXCEPTION_HANDLER; services' domain exceptions become
problems through `register_problem()` (each app registers its own, in its api module), so
the mapping from a domain error to a status lives in one place per exception.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings

from apps.core.errors import DomainError, InvalidTransition, NotFound, NotPermitted, ValidationFailed
from apps.core.money import MoneyError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:dotmac:billing:problem:"


def problem_type(slug: str) -> str:
    """The `type` URI of one of our problems (`urn:dotmac:billing:problem:validation-error`)."""
    return PROBLEM_TYPE_PREFIX + slug


def problem_body(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type_slug: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """A problem document; plain HTTP errors use `about:blank` with the status phrase as title."""
    phrase, description = _status_text(status)
    body: dict[str, Any] = {
        "type": problem_type(type_slug) if type_slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail if detail is not None else description,
    }
    if errors:
        body["errors"] = dict(errors)
    body.update(extensions)
    return body


def _status_text(status: int) -> tuple[str, str]:
    try:
        known = HTTPStatus(status)
    except ValueError:
        return f"HTTP {status}", f"The request ended with HTTP status {status}."
    return known.phrase, known.description


def problem_response(status: int, *, headers: Mapping[str, str] | None = None, **fields: Any) -> JsonResponse:
    """A problem answered outside DRF (middleware, plain views)."""
    response = JsonResponse(problem_body(status, **fields), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def is_problem(response: HttpResponse) -> bool:
    return str(response.get("Content-Type", "")).startswith(PROBLEM_CONTENT_TYPE)


# Headers of an error response that carry meaning and survive its conversion to a problem.
_KEPT_HEADERS = frozenset({"allow", "retry-after", "www-authenticate", "vary", "x-request-id"})


def as_problem(response: HttpResponse) -> JsonResponse:
    """Replace an error response that is not a problem (Django's HTML 404/500) by its problem.

    A JSON error body (a view's `Response(serializer.errors, status=400)`) keeps its content:
    as field errors for a 400, as the detail when it has one otherwise.
    """
    problem = problem_response(response.status_code, **_fields_of_json_error(response))
    for name, value in response.items():
        if name.lower() in _KEPT_HEADERS:
            problem[name] = value
    return problem


def _fields_of_json_error(response: HttpResponse) -> dict[str, Any]:
    if response.streaming or not str(response.get("Content-Type", "")).startswith("application/json"):
        return {}
    try:
        content = json.loads(response.content)
    except ValueError:
        return {}
    if not isinstance(content, dict) or not content:
        return {}
    if response.status_code == 400 and "detail" not in content:
        return _validation_fields(flatten_errors(content))
    if isinstance(content.get("detail"), str):
        return {"detail": content["detail"]}
    return {}


# --- Domain exceptions ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemMapping:
    status: int
    type_slug: str
    title: str


_domain_problems: dict[type[BaseException], ProblemMapping] = {}


def register_problem(exception: type[BaseException], *, status: int, type_slug: str, title: str) -> None:
    """Answer `exception` (and its subclasses) raised by a service with this problem; str(exc) is the detail."""
    _domain_problems[exception] = ProblemMapping(status=status, type_slug=type_slug, title=title)


def _domain_mapping(exc: BaseException) -> ProblemMapping | None:
    for klass in type(exc).__mro__:
        if klass in _domain_problems:
            return _domain_problems[klass]
    return None


register_problem(MoneyError, status=400, type_slug="invalid-amount", title="Invalid amount")


# --- Field errors ---------------------------------------------------------------------------


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as `{"lines.0.quantity": ["..."]}`."""
    flat: dict[str, list[str]] = {}

    def add(path: str, message: Any) -> None:
        flat.setdefault(path or api_settings.NON_FIELD_ERRORS_KEY, []).append(str(message))

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list | tuple):
            if all(not isinstance(item, Mapping | list | tuple) for item in node):
                for item in node:
                    add(path, item)
            else:
                for index, item in enumerate(node):
                    if item:  # a valid item of a list serializer has no errors: {}
                        walk(item, f"{path}.{index}" if path else str(index))
        else:
            add(path, node)

    walk(detail, prefix)
    return flat


def _validation_fields(errors: dict[str, list[str]]) -> dict[str, Any]:
    non_field = errors.get(api_settings.NON_FIELD_ERRORS_KEY, [])
    fields = [name for name in errors if name != api_settings.NON_FIELD_ERRORS_KEY]
    if fields:
        detail = "Invalid fields: " + ", ".join(fields) + "."
    else:
        detail = " ".join(non_field) or "The request is not valid."
    return {"title": "Invalid request", "detail": detail, "type_slug": "validation-error", "errors": errors}


def _validation_problem(errors: dict[str, list[str]]) -> dict[str, Any]:
    return problem_body(400, **_validation_fields(errors))


# --- DRF exception handler --------------------------------------------------------------------

_SLUG_BY_EXCEPTION: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed-request",
}


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """Every exception a DRF view raises, as a problem; unknown ones propagate (a 500, logged)."""
    answer = problem_for_exception(exc)
    if answer is None:
        return None
    body, headers = answer
    return Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_for_exception(exc: Exception) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The problem (and headers) that answers `exc`, or None for an unexpected error.

    Also used where one request carries many items (bulk endpoints): one problem per item.
    """
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
        )

    headers: dict[str, str] = {}
    mapping = _domain_mapping(exc)
    if isinstance(exc, DomainError):
        body = _domain_problem(exc)
    elif mapping is not None:
        body = problem_body(mapping.status, title=mapping.title, detail=str(exc), type_slug=mapping.type_slug)
    elif isinstance(exc, exceptions.ValidationError):
        body = _validation_problem(flatten_errors(exc.detail))
    elif isinstance(exc, exceptions.APIException):
        body = problem_body(
            exc.status_code,
            detail=_detail_text(exc.detail),
            type_slug=getattr(exc, "problem_type", None) or _SLUG_BY_EXCEPTION.get(type(exc)),
            title=getattr(exc, "problem_title", None),
        )
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
            body["retry_after"] = int(headers["Retry-After"])
    else:
        return None
    return body, headers


_DOMAIN_TITLES: dict[type[DomainError], tuple[str, str]] = {
    ValidationFailed: ("Invalid request", "validation-error"),
    InvalidTransition: ("Not allowed in this state", "invalid-transition"),
    NotPermitted: ("Forbidden", "not-permitted"),
    NotFound: ("Not Found", "not-found"),
}


def _domain_problem(exc: DomainError) -> dict[str, Any]:
    """A service's refusal: its status, its message as detail, its field (`lines.0.quantity`)."""
    title, slug = next(
        (value for klass, value in _DOMAIN_TITLES.items() if isinstance(exc, klass)),
        ("Request refused", exc.code.replace("_", "-")),
    )
    errors = {field_path(exc.field): [exc.message]} if exc.field else None
    return problem_body(exc.status, title=title, detail=exc.message, type_slug=slug, errors=errors)


def field_path(field: str) -> str:
    """Services name fields `lines[0].quantity`; problems use `lines.0.quantity` like DRF's errors."""
    return re.sub(r"\[(\d+)\]", r".\1", field)


def _detail_text(detail: Any) -> str:
    if isinstance(detail, list | tuple):
        return " ".join(str(item) for item in detail)
    if isinstance(detail, Mapping):
        return " ".join(f"{key}: {value}" for key, value in detail.items())
    return str(detail)
