"""OpenAPI post-processing: what every operation shares, written once.

The problem+json error responses, the request headers (Idempotency-Key on POST,
X-Platform-Version, X-Request-ID) and the response headers are added to every operation,
so a new resource is documented (and tested by schemathesis) without repeating them.
"""

from __future__ import annotations

import copy
from typing import Any

from billing_project import API_VERSION, PLATFORM_COMPATIBLE_VERSIONS

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details. Extra members (e.g. `supported_versions`) may appear.",
    "properties": {
        "type": {"type": "string", "description": "`about:blank` or `urn:dotmac:billing:problem:<slug>`."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "description": 'Field errors: `{"lines.0.quantity": ["A valid number is required."]}`.',
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["type", "title", "status", "detail"],
}

RESPONSE_HEADERS: dict[str, Any] = {
    "X-Request-ID": {
        "description": "The request's id: the caller's X-Request-ID when valid, else a generated one.",
        "required": True,
        "schema": {"type": "string"},
    },
    "X-Billing-API-Version": {
        "description": "The billing API version that answered.",
        "required": True,
        "schema": {"type": "string", "example": API_VERSION},
    },
}

REPLAYED_HEADER: dict[str, Any] = {
    "description": "`true` when this is the stored response of an earlier request with the same Idempotency-Key.",
    "schema": {"type": "string", "enum": ["true"]},
}


def _problem_response(description: str, example: dict[str, Any], **headers: Any) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {**RESPONSE_HEADERS, **headers},
        "content": {
            "application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "examples": {"problem": {"value": example}},
            }
        },
    }


def _example(status: int, title: str, detail: str, slug: str | None = None, **extra: Any) -> dict[str, Any]:
    kind = f"urn:dotmac:billing:problem:{slug}" if slug else "about:blank"
    return {"type": kind, "title": title, "status": status, "detail": detail, **extra}


ERROR_RESPONSES: dict[str, dict[str, Any]] = {
    "400": _problem_response(
        "Invalid request: field errors, malformed JSON, a bad header or an unsupported X-Platform-Version.",
        _example(
            400,
            "Invalid request",
            "Invalid fields: email.",
            "validation-error",
            errors={"email": ["Enter a valid email address."]},
        ),
    ),
    "401": _problem_response(
        "Missing, malformed, forged, expired or replayed credential, or an unknown tenant.",
        _example(401, "Unauthorized", "The token has expired."),
        **{"WWW-Authenticate": {"required": True, "schema": {"type": "string", "example": 'Bearer realm="billing"'}}},
    ),
    "403": _problem_response(
        "The credential lacks the role, its tenant is suspended, or the host belongs to another tenant.",
        _example(403, "Forbidden", "This action needs the role billing.write."),
    ),
    "404": _problem_response(
        "No such object in the credential's tenant (another tenant's ids are not found either).",
        _example(404, "Not Found", "Not found."),
    ),
    "409": _problem_response(
        "A request with the same Idempotency-Key is still in progress, or the state does not allow it.",
        _example(
            409,
            "Request in progress",
            "A request with this Idempotency-Key is still being processed; retry later.",
            "idempotency-key-in-progress",
        ),
    ),
    "415": _problem_response(
        "The request body is not JSON.",
        _example(415, "Unsupported Media Type", 'Unsupported media type "text/plain" in request.'),
    ),
    "422": _problem_response(
        "The Idempotency-Key was already used with another request body or endpoint.",
        _example(
            422,
            "Idempotency-Key reused",
            "This Idempotency-Key was used with a different request.",
            "idempotency-key-reused",
        ),
    ),
    "429": _problem_response(
        "Rate limit reached for this credential (API_RATE_LIMIT).",
        _example(429, "Too Many Requests", "Request was throttled. Expected available in 12 seconds.", retry_after=12),
        **{"Retry-After": {"required": True, "schema": {"type": "integer"}, "description": "Seconds to wait."}},
    ),
}

REQUEST_HEADER_PARAMETERS: list[dict[str, Any]] = [
    {
        "in": "header",
        "name": "X-Request-ID",
        "required": False,
        "description": "Your id for this request, echoed back and logged (letters, digits, `._:@/+=-`).",
        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$"},
    },
    {
        "in": "header",
        "name": "X-Platform-Version",
        "required": False,
        "description": "The platform's API version; a version outside the compatibility matrix gets a 400.",
        "schema": {"type": "string", "enum": list(PLATFORM_COMPATIBLE_VERSIONS)},
    },
]

IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": (
        "Makes the POST safe to retry (Stripe semantics), per tenant and caller, for at least 24 hours: "
        "the same key and body answer the original status and body with `Idempotent-Replayed: true`; "
        "the same key with another body is a 422; while the first is in flight, a duplicate waits "
        "for it or gets a 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def _error_codes(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    codes = ["400", "401", "403", "429"]
    parameters = operation.get("parameters", [])
    if "{" in path or any(parameter.get("name") == "cursor" for parameter in parameters):
        codes.append("404")
    if "requestBody" in operation:
        codes.append("415")
    if method == "post":
        codes += ["409", "422"]
    return codes


def add_shared_api_parts(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK: problems, shared headers, Idempotency-Key."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    responses = components.setdefault("responses", {})
    for code, response in ERROR_RESPONSES.items():
        responses[f"Problem{code}"] = copy.deepcopy(response)

    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            parameters = operation.setdefault("parameters", [])
            known = {(parameter.get("in"), parameter.get("name")) for parameter in parameters}
            extra = list(REQUEST_HEADER_PARAMETERS)
            if method == "post":
                extra.append(IDEMPOTENCY_KEY_PARAMETER)
            parameters.extend(copy.deepcopy(p) for p in extra if (p["in"], p["name"]) not in known)

            for code, response in operation["responses"].items():
                headers = response.setdefault("headers", {})
                headers.update(copy.deepcopy(RESPONSE_HEADERS))
                if method == "post" and code.startswith("2"):
                    headers["Idempotent-Replayed"] = copy.deepcopy(REPLAYED_HEADER)
            for code in _error_codes(path, method, operation):
                operation["responses"].setdefault(code, {"$ref": f"#/components/responses/Problem{code}"})
    return result
