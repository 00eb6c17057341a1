"""A small local fake of the Stripe API (POST /v1/payment_intents), for the real SDK to talk to.

It answers like Stripe does: a confirmed PaymentIntent, or a 402 card_error carrying the
failed PaymentIntent; it keeps Stripe's idempotency (the same Idempotency-Key replays the
stored response, other parameters with the same key are a 400 idempotency_error); and it
records every request. Outcomes are queued per test: "succeed", "decline",
"authentication_required", "processing", "drop" (charge, then close the connection without
answering: a lost response), "server_error" (a 500 that Stripe stores under the key too).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

_ids = itertools.count(1)


def _new_id(prefix: str) -> str:
    return f"{prefix}_3Fake{next(_ids):010d}"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]


@dataclass
class FakeStripeState:
    outcomes: deque[str] = field(default_factory=deque)
    default_outcome: str = "succeed"
    requests: list[RecordedRequest] = field(default_factory=list)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, tuple[dict[str, Any], int, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_outcome(self) -> str:
        return self.outcomes.popleft() if self.outcomes else self.default_outcome


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[tenant]=alpha`) back into nested dicts."""
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        if "[" in key:
            outer, inner = key.split("[", 1)
            params.setdefault(outer, {})[inner.rstrip("]")] = value
        else:
            params[key] = value
    return params


def payment_intent(params: dict[str, Any], status: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
    intent_id = _new_id("pi")
    amount = int(params["amount"])
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount if status == "succeeded" else 0,
        "capture_method": "automatic_async",
        "client_secret": f"{intent_id}_secret_fake",
        "confirmation_method": "automatic",
        "created": int(time.time()),
        "currency": params["currency"],
        "customer": params.get("customer"),
        "description": params.get("description"),
        "last_payment_error": error,
        "latest_charge": (error or {}).get("charge") or (_new_id("ch") if status == "succeeded" else None),
        "livemode": False,
        "metadata": params.get("metadata", {}),
        "off_session": True,
        "payment_method": params.get("payment_method"),
        "payment_method_types": ["card"],
        "status": status,
    }


def card_error(params: dict[str, Any], code: str, decline_code: str | None, message: str) -> dict[str, Any]:
    error = {
        "charge": _new_id("ch"),
        "code": code,
        "decline_code": decline_code,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": message,
        "payment_method": {"id": params.get("payment_method"), "object": "payment_method", "type": "card"},
        "type": "card_error",
    }
    intent = payment_intent(params, "requires_payment_method", error)
    return {"error": {**error, "payment_intent": intent}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _reply(self, status: int, body: dict[str, Any], replayed: bool = False) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_fake{next(_ids)}")
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        params = decode_form(self.rfile.read(length).decode())
        key = self.headers.get("Idempotency-Key", "")
        with state.lock:
            state.requests.append(RecordedRequest("POST", self.path, dict(self.headers.items()), params))
            if self.path != "/v1/payment_intents":
                self._reply(404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}})
                return
            if self.headers.get("Authorization", "") != f"Bearer {self.server.api_key}":
                self._reply(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}})
                return
            if key in state.idempotent:
                stored_params, status, body = state.idempotent[key]
                if stored_params != params:
                    self._reply(
                        400,
                        {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used with the same parameters",
                            }
                        },
                    )
                    return
                self._reply(status, body, replayed=True)
                return
            outcome = state.next_outcome()
            status, body = self._charge(outcome, params)
            state.idempotent[key] = (params, status, body)
        if outcome == "drop":
            # Charged, but the answer is lost on the way back.
            self.close_connection = True
            self.connection.close()
            return
        self._reply(status, body)

    def _charge(self, outcome: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.server.state
        if outcome in ("succeed", "drop"):
            intent = payment_intent(params, "succeeded")
        elif outcome == "processing":
            intent = payment_intent(params, "processing")
        elif outcome == "decline":
            body = card_error(params, "card_declined", "insufficient_funds", "Your card has insufficient funds.")
            state.intents[body["error"]["payment_intent"]["id"]] = body["error"]["payment_intent"]
            return 402, body
        elif outcome == "authentication_required":
            body = card_error(
                params,
                "authentication_required",
                "authentication_required",
                "Your card was declined. This transaction requires authentication.",
            )
            state.intents[body["error"]["payment_intent"]["id"]] = body["error"]["payment_intent"]
            return 402, body
        elif outcome == "server_error":
            return 500, {"error": {"type": "api_error", "message": "An unknown error occurred"}}
        else:
            raise AssertionError(f"unknown fake outcome {outcome!r}")
        state.intents[intent["id"]] = intent
        return 200, intent


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api_key: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = FakeStripeState()
        self.api_key = api_key


class FakeStripe:
    """Runs the fake on a free port of 127.0.0.1 until `stop()`."""

    def __init__(self, api_key: str = "sk_test_fake") -> None:
        self.api_key = api_key
        self._server = _Server(api_key)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeStripe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def state(self) -> FakeStripeState:
        return self._server.state

    def will(self, *outcomes: str) -> None:
        """Queue the outcomes of the next charges (then: succeed)."""
        self.state.outcomes.extend(outcomes)

    @property
    def charges(self) -> list[RecordedRequest]:
        return [r for r in self.state.requests if r.path == "/v1/payment_intents"]


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header made the way Stripe makes it: t=<ts>,v1=<HMAC-SHA256 hex>."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_event(event_type: str, intent: dict[str, Any]) -> bytes:
    """An Event as Stripe posts it to a webhook endpoint."""
    return json.dumps(
        {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "data": {"object": intent},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
    ).encode()
