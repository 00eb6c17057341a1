"""Small local fakes of the providers, for the real client libraries to talk to on 127.0.0.1:
Postmark's email API (anymail's Postmark backend), Twilio's Messages API (the twilio SDK)
and the platform's push relay. Each records requests; outcomes are queued per test."""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

_ids = itertools.count(1)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class FakeProvider:
    """Common state: queued outcomes (else `default`), recorded requests, the server's URL."""

    default: str = "ok"
    outcomes: deque[str] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    count: int = 0
    accepted: int = 0
    keep_requests: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_outcome(self) -> str:
        with self.lock:
            return self.outcomes.popleft() if self.outcomes else self.default

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError


class FakePostmark(FakeProvider):
    """POST /email: "ok", "server_error" (500), "invalid_address" (422, ErrorCode 300)."""

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        outcome = self.next_outcome()
        payload = request.json()
        if outcome == "server_error":
            return 500, {}, b'{"ErrorCode": 100, "Message": "Internal server error"}'
        if outcome == "invalid_address":
            body = {"ErrorCode": 300, "Message": f"Invalid 'To' address: '{payload['To']}'."}
            return 422, {}, json.dumps(body).encode()
        body = {
            "To": payload["To"],
            "SubmittedAt": "2026-11-25T16:00:00.0000000-05:00",
            "MessageID": f"0a129aee-e1cd-480d-b08d-{next(_ids):012d}",
            "ErrorCode": 0,
            "Message": "OK",
        }
        return 200, {}, json.dumps(body).encode()


class FakeTwilio(FakeProvider):
    """POST /2010-04-01/Accounts/<sid>/Messages.json: "ok", "server_error" (500),
    "invalid_number" (400, Twilio error 21211)."""

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        outcome = self.next_outcome()
        form = request.form()
        if outcome == "server_error":
            body = {"code": 20500, "message": "Internal Server Error", "status": 500}
            return 500, {}, json.dumps(body).encode()
        if outcome == "invalid_number":
            body = {
                "code": 21211,
                "message": f"Invalid 'To' Phone Number: {form.get('To')}",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            }
            return 400, {}, json.dumps(body).encode()
        sid = f"SM{next(_ids):032d}"
        body = {
            "sid": sid,
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "num_segments": "1",
            "uri": f"/2010-04-01/Accounts/AC123/Messages/{sid}.json",
        }
        return 201, {}, json.dumps(body).encode()


class FakePushRelay(FakeProvider):
    """POST /push: "ok" (202 with an id) or "server_error" (503)."""

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        if self.next_outcome() == "server_error":
            return 503, {}, b"unavailable"
        return 202, {}, json.dumps({"id": f"push_{next(_ids)}"}).encode()


STATS_PATH = "/_fake/stats"


@contextmanager
def serve(provider: FakeProvider, port: int = 0, keep_alive: bool = False) -> Iterator[FakeProvider]:
    """Run `provider` on 127.0.0.1 (a free port unless given) for the duration of the block.

    `keep_alive` answers in HTTP/1.1 and keeps connections open, as the real providers do
    (the benchmark uses it); `GET /_fake/stats` reports the requests received and accepted
    (answered 2xx), for a process that runs the fake in another process.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def do_GET(self) -> None:
            if self.path != STATS_PATH:
                self.send_error(404)
                return
            with provider.lock:
                body = json.dumps({"requests": provider.count, "accepted": provider.accepted}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Recorded(
                "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
            )
            with provider.lock:
                if provider.keep_requests:
                    provider.requests.append(request)
                provider.count += 1
            status, headers, body = provider.answer(request)
            if 200 <= status < 300:
                with provider.lock:
                    provider.accepted += 1
            self.send_response(status)
            self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    server = Server(("127.0.0.1", port), Handler)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main() -> None:
    """`python -m tests.notifications.fakes postmark PORT`: serve a fake until killed (the
    benchmark runs it in its own process so it never competes with the measured code)."""
    import sys

    kind, port = sys.argv[1], int(sys.argv[2])
    provider = {"postmark": FakePostmark, "twilio": FakeTwilio, "push": FakePushRelay}[kind]()
    with serve(provider, port=port, keep_alive=True) as running:
        print(f"serving {kind} at {running.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
