"""API test helpers: tokens, clients on the public and tenant hosts, a live threaded server.

Personas: the platform gateway acting for alice (billing.admin) in tenant alpha, bob
(billing.read) in alpha, an outsider (billing.admin) in beta, and the platform operator
(platform.admin, tenant claim `public`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.test import Client

from apps.core.tenancy import use_public_schema
from apps.tenants.api.tokens import mint_platform_token

PUBLIC_HOST = "localhost"
PROBLEM = "application/problem+json"


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid platform-token claims (tenant alpha, billing.admin), with overrides; None removes a claim."""
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": settings.PLATFORM_JWT_ISSUER,
        "aud": settings.PLATFORM_JWT_AUDIENCE,
        "sub": f"alice-{uuid.uuid4().hex[:8]}",
        "tenant": "alpha",
        "roles": ["billing.admin"],
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def sign(values: dict[str, Any], key: Any = None, algorithm: str = "HS256") -> str:
    return jwt.encode(values, key if key is not None else settings.PLATFORM_JWT_SECRET, algorithm=algorithm)


def token(tenant: str = "alpha", roles: tuple[str, ...] = ("billing.admin",), sub: str | None = None) -> str:
    """A valid platform token; each one for a new user unless `sub` is given (rate limits stay apart)."""
    return mint_platform_token(tenant=tenant, roles=roles, sub=sub or f"user-{uuid.uuid4().hex[:8]}", lifetime=300)


def bearer(credential: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {credential}"}


def operator_token(sub: str | None = None) -> str:
    """The platform operator: platform.admin, not bound to a billing tenant."""
    return token(tenant="public", roles=("platform.admin",), sub=sub)


def assert_problem(response: Any, status: int, *, type_slug: str | None = None, detail_contains: str = "") -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["type"] == (f"urn:dotmac:billing:problem:{type_slug}" if type_slug else "about:blank")
    assert detail_contains in body["detail"]
    return body


@pytest.fixture(autouse=True)
def _back_to_public_schema() -> Iterator[None]:
    """Views switch the connection to the credential's tenant; leave every test in public."""
    yield
    use_public_schema()


@pytest.fixture
def api(db: None) -> Client:
    """A client on the public host (any host serves the API)."""
    return Client(HTTP_HOST=PUBLIC_HOST)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def live_api() -> Iterator[str]:
    """A real threaded HTTP server on a free loopback port: each request thread has its own DB connection.

    It sees only committed data (the session tenants), and what it writes is committed:
    tests clean up after themselves with `tests.concurrency.in_own_connection`.
    """
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def post_together(base_url: str, path: str, count: int, body: Any, headers: dict[str, str]) -> list[Any]:
    """POST the same request `count` times at once (released by a barrier), each on its own connection."""
    import httpx

    barrier = threading.Barrier(count)
    responses: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            barrier.wait(timeout=30)
            responses.append(client.post(path, json=body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert len(responses) == count
    return responses


@pytest.fixture
def probe(settings: Any) -> str:
    """Serve tests.api.probe_urls on every host; returns the probe's path."""
    settings.ROOT_URLCONF = "tests.api.probe_urls"
    settings.PUBLIC_SCHEMA_URLCONF = "tests.api.probe_urls"
    return "/api/v1/probe/"


def as_role(role: str, tenant: str = "alpha", sub: str | None = None) -> dict[str, Any]:
    """Headers of a platform token with one billing role (billing.read / write / admin)."""
    return bearer(token(tenant, roles=(role,), sub=sub))


class JsonClient:
    """A Django test client speaking JSON with one credential (the platform acting for someone)."""

    def __init__(self, credential_headers: dict[str, Any], host: str = PUBLIC_HOST) -> None:
        self.client = Client(HTTP_HOST=host)
        self.headers = credential_headers

    def get(self, path: str, **extra: Any) -> Any:
        return self.client.get(path, **self.headers, **extra)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.client.post(
            path, body if body is not None else {}, content_type="application/json", **self.headers, **extra
        )

    def patch(self, path: str, body: Any, **extra: Any) -> Any:
        return self.client.patch(path, body, content_type="application/json", **self.headers, **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.client.delete(path, **self.headers, **extra)


@pytest.fixture
def admin(db: None) -> JsonClient:
    """The platform acting for alice, billing.admin in tenant alpha."""
    return JsonClient(as_role("billing.admin", sub="alice"))


@pytest.fixture
def writer(db: None) -> JsonClient:
    return JsonClient(as_role("billing.write", sub="walter"))


@pytest.fixture
def reader(db: None) -> JsonClient:
    return JsonClient(as_role("billing.read", sub="rita"))


@pytest.fixture
def outsider(db: None) -> JsonClient:
    """billing.admin in tenant beta."""
    return JsonClient(as_role("billing.admin", tenant="beta", sub="oscar"))
