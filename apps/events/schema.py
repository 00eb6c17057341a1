"""drf-spectacular postprocessing hook: the event catalogue as OpenAPI 3.1 `webhooks`."""

from __future__ import annotations

from typing import Any

from apps.events.catalogue import CATALOGUE

HEADERS = {
    "webhook-id": "Message id, the same on every retry (de-duplicate on it).",
    "webhook-timestamp": "Unix seconds when this attempt was signed.",
    "webhook-signature": "`v1,<base64 HMAC-SHA256>`; several, space-separated, during a secret rotation.",
}


def envelope_schema(name: str) -> dict[str, Any]:
    entry = CATALOGUE[name]
    return {
        "type": "object",
        "required": ["id", "type", "tenant", "sequence", "created_at", "api_version", "data"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "type": {"type": "string", "enum": [name]},
            "tenant": {"type": "string"},
            "sequence": {"type": "integer", "description": "Per-tenant, increasing in commit order."},
            "created_at": {"type": "string", "format": "date-time"},
            "api_version": {"type": "string"},
            "data": entry.schema,
        },
    }


def add_webhooks(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    # OpenAPI 3.1 has `webhooks`; a 3.0 document carries them as the `x-webhooks` extension.
    key = "webhooks" if str(result.get("openapi", "")).startswith("3.1") else "x-webhooks"
    webhooks = result.setdefault(key, {})
    for name, entry in sorted(CATALOGUE.items()):
        webhooks[name] = {
            "post": {
                "summary": f"{name} (v{entry.version})",
                "description": entry.description,
                "operationId": f"webhook_{name.replace('.', '_')}",
                "tags": ["webhooks"],
                "parameters": [
                    {
                        "name": header,
                        "in": "header",
                        "required": True,
                        "description": text,
                        "schema": {"type": "string"},
                    }
                    for header, text in HEADERS.items()
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": envelope_schema(name)}}},
                "responses": {"2XX": {"description": "Received; any other answer is retried or failed."}},
            }
        }
    return result
