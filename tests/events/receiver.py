"""A real HTTP receiver on 127.0.0.1 for webhook tests (tests/events and tests/api use it)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers POSTs from `script` (status, headers, body, delay) in order, then `default`."""

    port: int
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    default: tuple[int, dict[str, str], bytes] = (200, {}, b"ok")
    hold: threading.Event | None = None
    arrived: int = 0
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                receiver.arrived += 1
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                with receiver.lock:
                    receiver.received.append(Received(dict(self.headers.items()), body, time.monotonic()))
                    status, headers, answer = receiver.script.pop(0) if receiver.script else receiver.default
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_for(self, count: int, timeout: float = 30.0, poke: Callable[[], Any] | None = None) -> list[Received]:
        """Poll until `count` requests arrived (calling `poke` between polls), or fail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return self.received
            if poke is not None:
                poke()
            time.sleep(0.05)
        raise AssertionError(f"receiver got {len(self.received)} of {count} requests in {timeout}s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    server = Receiver(port=free_port())
    server.start()
    yield server
    if server.hold is not None:
        server.hold.set()
    server.stop()


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, poke: Callable[[], Any] | None = None) -> Any:
    """Poll `condition` until truthy (a deadline, not a sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if poke is not None:
            poke()
        time.sleep(0.1)
    raise AssertionError("condition not met before the deadline")
