"""Helpers for the deploy-artefact tests: the repository root and the environment contract."""

from __future__ import annotations

import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
# The team's design document lives beside the checkout (shared/design/); a copy of its §5
# is kept here so the checks also run where shared/ is not laid out beside the repository
# (test_compose checks the copy is current whenever the original is there).
ARCHITECTURE = BASE_DIR.parent / "shared" / "design" / "ARCHITECTURE.md"
SECTION_5_COPY = Path(__file__).parent / "architecture_section5.md"


def architecture_section_5() -> str:
    """§5 (Settings) of ARCHITECTURE.md."""
    if ARCHITECTURE.exists():
        text = ARCHITECTURE.read_text()
        return text[text.index("## 5. Settings") : text.index("## 6.")]
    return SECTION_5_COPY.read_text()


# Read by settings.py only under pytest / `make test`, never set in a deployment.
TEST_ONLY_VARIABLES = frozenset({"TEST_DATABASE_NAME"})


def env_example_variables() -> dict[str, bool]:
    """Variable -> set (True) or commented out as optional (False), from .env.example."""
    variables: dict[str, bool] = {}
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=.*", line.strip())
        if match:
            variables.setdefault(match[2], match[1] is None)
    return variables


def settings_env_reads() -> set[str]:
    """Every variable settings.py reads through django-environ or os.environ."""
    source = (BASE_DIR / "billing_project" / "settings.py").read_text()
    pattern = r"""(?:env(?:\.\w+)?|os\.environ\.get|os\.getenv|environ\.get)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    return set(re.findall(pattern, source))


# --- A JWK Set served on 127.0.0.1 (the platform's PLATFORM_JWT_JWKS_URL) --------------------
import json  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

from apps.tenants.api.tokens import jwks_client  # noqa: E402
from deploy.gateway.mint_token import jwks_document  # noqa: E402
from tests.api.conftest import api, live_api, probe  # noqa: E402,F401


class JwksServer:
    """Serves `document` at /jwks.json and counts the fetches."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                body = json.dumps(owner.document).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, public_keys: dict[str, Any]) -> None:
        self.document = jwks_document(public_keys)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server(settings: Any) -> Iterator[JwksServer]:
    """A JWKS endpoint billing is configured to trust (and no static key besides)."""
    server = JwksServer()
    settings.PLATFORM_JWT_JWKS_URL = server.url
    jwks_client.cache_clear()
    try:
        yield server
    finally:
        jwks_client.cache_clear()
        server.close()


@pytest.fixture(scope="session")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())
