"""The reference gateway (deploy/gateway/nginx.conf.template) run for real: nginx with
auth_request in front of billing, the reference auth service minting tokens with
deploy/gateway/mint_token.py, billing verifying them through the JWK Set.

A second upstream that echoes the headers it receives shows what the gateway strips.
"""

from __future__ import annotations

import json
import shutil
import socket
import string
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.gateway.auth_service import serve
from deploy.gateway.mint_token import mint_token
from tests.platform.conftest import BASE_DIR, JwksServer

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

TEMPLATE = BASE_DIR / "deploy" / "gateway" / "nginx.conf.template"
SESSIONS = {
    "sess-alice": ("alice", "alpha", ["billing.read"]),
    "sess-olga": ("olga", "beta", ["billing.admin"]),
}


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text() if log.exists() else ''}")
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("nginx never listened")


class EchoHandler(BaseHTTPRequestHandler):
    """An upstream that answers with the request headers it got."""

    def do_GET(self) -> None:
        body = json.dumps({name.lower(): value for name, value in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_nginx(tmp_path: Path, billing_upstream: str, auth_upstream: str) -> Iterator[str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is missing: `make system-deps` installs nginx-light"
    port = free_port()
    rendered = string.Template(TEMPLATE.read_text()).safe_substitute(
        BILLING_UPSTREAM=billing_upstream,
        AUTH_UPSTREAM=auth_upstream,
        BASE_DOMAIN="localhost",
        GATEWAY_LISTEN=str(port),
    )
    (tmp_path / "billing.conf").write_text(rendered)
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(
        "daemon off;\nworker_processes 1;\npid nginx.pid;\nerror_log logs/error.log warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n access_log off;\n client_body_temp_path tmp-body;\n proxy_temp_path tmp-proxy;\n"
        " fastcgi_temp_path tmp-fcgi;\n uwsgi_temp_path tmp-uwsgi;\n scgi_temp_path tmp-scgi;\n"
        " include billing.conf;\n}\n"
    )
    process = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", "nginx.conf"], stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process, tmp_path / "logs" / "error.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def platform_auth(jwks_server: JwksServer, rsa_keys: list) -> Iterator[str]:
    """The platform's auth service: sessions -> tokens signed with the published key."""
    jwks_server.publish({"gw-1": rsa_keys[0].public_key()})

    def mint(**claims: Any) -> str:
        return mint_token(key=rsa_keys[0], kid="gw-1", **claims)

    server = serve(sessions=SESSIONS.get, mint=mint)
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def gateway(tmp_path: Path, live_api: str, probe: str, platform_auth: str) -> Iterator[str]:
    yield from start_nginx(tmp_path, live_api.removeprefix("http://"), platform_auth)


@pytest.fixture
def echo_gateway(tmp_path: Path, platform_auth: str) -> Iterator[str]:
    echo = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    try:
        yield from start_nginx(tmp_path, f"127.0.0.1:{echo.server_port}", platform_auth)
    finally:
        echo.shutdown()
        echo.server_close()


def test_a_signed_in_user_reaches_billing_through_the_gateway_as_themselves(gateway: str) -> None:
    response = httpx.get(
        f"{gateway}/api/v1/probe/",
        headers={"Host": "localhost", "X-Platform-Session": "sess-alice", "X-Request-ID": "gw-test-1"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "sub": "alice",
        "tenant": "alpha",
        "kind": "platform_token",
        "roles": ["billing.read"],
        "caller": "user:alice",
        "schema": "alpha",
    }
    assert response.headers["X-Request-ID"] == "gw-test-1"
    # A real resource, read in alice's tenant.
    accounts = httpx.get(
        f"{gateway}/api/v1/accounts/", headers={"Host": "localhost", "X-Platform-Session": "sess-alice"}
    )
    assert accounts.status_code == 200
    assert set(accounts.json()) >= {"results", "next", "previous"}


def test_no_session_is_refused_at_the_gateway_whatever_the_client_sends(gateway: str, rsa_keys: list) -> None:
    assert httpx.get(f"{gateway}/api/v1/probe/", headers={"Host": "localhost"}).status_code == 401
    # A token the client minted itself (even with a key billing trusts) never reaches billing:
    # without a platform session the gateway refuses, with one it replaces the header.
    own = mint_token(user="mallory", tenant="beta", roles=["billing.admin"], key=rsa_keys[0], kid="gw-1")
    assert httpx.get(f"{gateway}/api/v1/probe/", headers={"Authorization": f"Bearer {own}"}).status_code == 401
    replaced = httpx.get(
        f"{gateway}/api/v1/probe/",
        headers={"Host": "localhost", "Authorization": f"Bearer {own}", "X-Platform-Session": "sess-alice"},
    )
    assert replaced.json()["sub"] == "alice"


def test_the_gateway_strips_identity_headers_and_sets_forwarding_headers(echo_gateway: str) -> None:
    received = httpx.get(
        f"{echo_gateway}/api/v1/accounts/",
        headers={
            "Host": "localhost",
            "X-Platform-Session": "sess-olga",
            "X-Tenant": "alpha",
            "X-User": "root",
            "X-Roles": "platform.admin",
            "X-Forwarded-For": "10.9.9.9",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
            "X-Request-ID": "bad id with spaces",
            "Cookie": "platform_session=secret",
        },
    ).json()
    for header in ("x-tenant", "x-user", "x-roles", "x-forwarded-host", "x-platform-session", "cookie"):
        assert header not in received, header
    assert received["x-forwarded-for"] == "127.0.0.1"
    assert received["x-forwarded-proto"] == "http"
    assert received["x-request-id"] != "bad id with spaces" and len(received["x-request-id"]) == 32
    scheme, _, token = received["authorization"].partition(" ")
    assert scheme == "Bearer"
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["tenant"], claims["roles"]) == ("olga", "beta", ["billing.admin"])
    assert jwt.get_unverified_header(token)["kid"] == "gw-1"


def test_tenant_api_keys_pass_through_and_metrics_stay_private(echo_gateway: str) -> None:
    key = "bk_abcdefghijkl_" + "s" * 32
    received = httpx.get(
        f"{echo_gateway}/api/v1/accounts/", headers={"Host": "localhost", "Authorization": f"Bearer {key}"}
    ).json()
    assert received["authorization"] == f"Bearer {key}"
    assert httpx.get(f"{echo_gateway}/metrics", headers={"Host": "localhost"}).status_code == 404
    assert httpx.get(f"{echo_gateway}/health/ready", headers={"Host": "localhost"}).status_code == 404
