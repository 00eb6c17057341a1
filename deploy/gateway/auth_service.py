"""A reference auth service for nginx's `auth_request` (deploy/gateway/nginx.conf.template).

nginx asks `GET /authorize` with the caller's headers before forwarding any `/api/` request.
This service resolves the caller's platform session to (user, tenant, roles) and answers
200 with `X-Billing-Authorization: Bearer <token minted by mint_token>`, which nginx sends
to billing as `Authorization`. A tenant API key (`Authorization: Bearer bk_...`) passes
through unchanged: billing checks it. Anything else is 401.

Standard library plus PyJWT; in production this is the platform's own auth service, and
`sessions` its session store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SessionLookup = Callable[[str], "tuple[str, str, list[str]] | None"]


def make_handler(*, sessions: SessionLookup, mint: Callable[..., str]) -> type[BaseHTTPRequestHandler]:
    """A handler resolving `X-Platform-Session` through `sessions` and minting with `mint`."""

    class AuthorizeHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/authorize":
                self._answer(404)
                return
            incoming = self.headers.get("Authorization", "")
            if incoming.startswith("Bearer bk_"):
                self._answer(200, incoming)
                return
            session = sessions(self.headers.get("X-Platform-Session", ""))
            if session is None:
                self._answer(401)
                return
            user, tenant, roles = session
            self._answer(200, f"Bearer {mint(user=user, tenant=tenant, roles=roles)}")

        def _answer(self, status: int, credential: str | None = None) -> None:
            self.send_response(status)
            if credential:
                self.send_header("X-Billing-Authorization", credential)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return AuthorizeHandler


def serve(*, sessions: SessionLookup, mint: Callable[..., str], port: int = 0) -> ThreadingHTTPServer:
    """Start the service on 127.0.0.1:`port` in a thread; `server.shutdown()` stops it."""
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(sessions=sessions, mint=mint))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
