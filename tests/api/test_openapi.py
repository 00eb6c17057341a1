"""The OpenAPI document: valid, self-hosted docs, shared parts on every operation, and fuzzed.

The schemathesis run walks every operation the schema lists, so each resource added to
billing_project/api_urls.py is fuzzed here without touching this file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks as openapi_checks

from apps.core.tenancy import use_public_schema
from tests.api.conftest import token

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/v1/schema/?format=json"


def load_schema(api: Client) -> dict[str, Any]:
    response = api.get(SCHEMA_URL)
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_schema_is_valid_openapi_3(api: Client) -> None:
    document = load_schema(api)
    assert document["openapi"].startswith("3.")
    validate(document)
    assert document["info"]["title"] == "DotMac Billing API"


def test_both_credentials_are_described_as_alternatives(api: Client) -> None:
    document = load_schema(api)
    schemes = document["components"]["securitySchemes"]
    assert schemes["PlatformToken"]["scheme"] == "bearer" and schemes["PlatformToken"]["bearerFormat"] == "JWT"
    assert schemes["ApiKey"]["scheme"] == "bearer" and schemes["ApiKey"]["bearerFormat"] == "bk_..."
    assert document["paths"]["/api/v1/tenants/"]["get"]["security"] == [{"PlatformToken": []}, {"ApiKey": []}]


def test_every_operation_documents_problems_headers_and_examples(api: Client) -> None:
    document = load_schema(api)
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) >= 6
    for path, method, operation in operations:
        for code in ("400", "401", "403", "429"):
            assert operation["responses"][code] == {"$ref": f"#/components/responses/Problem{code}"}, (path, code)
        parameters = {parameter["name"] for parameter in operation["parameters"]}
        assert {"X-Request-ID", "X-Platform-Version"} <= parameters
        if method == "post":
            assert "Idempotency-Key" in parameters
            assert {"409", "422"} <= set(operation["responses"])
        for code, response in operation["responses"].items():
            if "$ref" not in response:
                assert {"X-Request-ID", "X-Billing-API-Version"} <= set(response["headers"]), (path, code)
                for media_type, media in response.get("content", {}).items():
                    if media_type != "application/pdf":
                        assert "examples" in media, (path, method, code)
    problem = document["components"]["responses"]["Problem429"]
    assert set(problem["content"]) == {"application/problem+json"}
    assert "Retry-After" in problem["headers"]


def test_the_docs_page_is_served_without_any_cdn(api: Client) -> None:
    page = api.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "https://" not in html and "http://" not in html
    bundle = api.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert int(bundle["Content-Length"]) > 100_000


# --- schemathesis over the whole schema -------------------------------------------------------


class RolledBackWSGI:
    """The real WSGI app, each request in a savepoint that is rolled back afterwards.

    Every request sees the session tenants and leaves nothing behind, so operations cannot
    disturb one another or other tests, even when one of them breaks its transaction.
    """

    def __init__(self) -> None:
        self.handler = WSGIHandler()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with transaction.atomic():
            response = self.handler(environ, start_response)
            content = b"".join(response)
            response.close()
            transaction.set_rollback(True)
        use_public_schema()
        return [content]


@pytest.fixture
def fuzzed_app(db: None, settings: Any) -> Iterator[RolledBackWSGI]:
    # As Django's test client does: the request signals must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    settings.API_RATE_LIMIT = "none"
    try:
        yield RolledBackWSGI()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def everyone_token(db: None) -> str:
    """A credential allowed everywhere: billing.admin and platform.admin in tenant alpha."""
    return token("alpha", roles=("billing.admin", "platform.admin"), sub="schemathesis")


def generated_schema() -> dict[str, Any]:
    """The document /api/v1/schema/ serves, generated at collection (it needs no database)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


# Bounded so that the run stays well under a minute as resources are added: no coverage
# phase (hundreds of boundary cases per operation); tenant creation (a schema clone each)
# only with invalid input, its valid path being covered by its explicit example.
FUZZ_CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {"coverage": {"enabled": False}},
        "operations": [
            {"include-path": "/api/v1/tenants/", "include-method": "POST", "generation": {"mode": "negative"}},
        ],
    }
)

# Loaded at collection so that each operation is its own test item.
schema = schemathesis.openapi.from_dict(generated_schema(), config=FUZZ_CONFIG)

CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


@schema.parametrize()
@hypothesis.settings(
    max_examples=12,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_no_operation_fails_or_breaks_its_schema(case: Any, everyone_token: str, fuzzed_app: RolledBackWSGI) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {everyone_token}"}, checks=CHECKS, app=fuzzed_app)
