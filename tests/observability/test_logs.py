"""Structured logs: JSON lines with the request id and tenant; PII and credentials masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from django.test import Client

from billing_project.observability.logs import logging_config, mask_text
from tests.api.conftest import bearer, token


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Capture what the production (JSON) formatter writes, from every logger."""
    config = logging_config("json", "INFO")
    formatter = logging.config.DictConfigurator(config).configure_custom(dict(config["formatters"]["structured"]))  # type: ignore[attr-defined]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_every_line_of_a_request_is_json_with_its_request_id_and_tenant(db: None, json_lines: io.StringIO) -> None:
    response = Client(HTTP_HOST="localhost").get(
        "/api/v1/accounts/", HTTP_X_REQUEST_ID="abc", **bearer(token(tenant="alpha"))
    )
    assert response.status_code == 200
    assert response["X-Request-ID"] == "abc"
    lines = records(json_lines)
    finished = [line for line in lines if line["event"] == "request_finished"]
    assert finished, lines
    for line in lines:
        assert line["request_id"] == "abc"
        assert {"timestamp", "level", "logger", "event"} <= set(line)
    assert finished[0]["tenant"] == "alpha"
    assert finished[0]["subject"].startswith("user:")


def test_an_invalid_request_id_is_replaced_not_logged(db: None, json_lines: io.StringIO) -> None:
    response = Client(HTTP_HOST="localhost").get("/api/v1/version/", HTTP_X_REQUEST_ID="bad id\nwith newline")
    request_id = response["X-Request-ID"]
    assert request_id != "bad id\nwith newline" and len(request_id) == 32
    assert {line["request_id"] for line in records(json_lines)} == {request_id}


def test_emails_phones_cards_and_credentials_are_masked(json_lines: io.StringIO) -> None:
    structlog.get_logger("billing.test").info(
        "reminder for ada.obi@example.com on +2348012345678",
        card="4242 4242 4242 4242",
        authorization="Bearer eyJhbGciOi.secret.part",
        contact={"email": "ada.obi@example.com", "phones": ["+2348012345678"]},
    )
    logging.getLogger("billing.stdlib").warning("charge of card 4000056655665556 for bob@example.org failed")
    text = json_lines.getvalue()
    for secret in (
        "ada.obi@example.com",
        "+2348012345678",
        "4242 4242 4242 4242",
        "4000056655665556",
        "eyJhbGciOi",
        "bob@example.org",
    ):
        assert secret not in text
    first, second = records(json_lines)
    assert first["event"] == "reminder for a***@example.com on +***********78"
    assert first["card"] == "************4242"
    assert first["authorization"] == "[redacted]"
    assert first["contact"] == {"email": "a***@example.com", "phones": ["+***********78"]}
    assert second["event"] == "charge of card ************5556 for b***@example.org failed"


@pytest.mark.parametrize(
    "text",
    ["2026-11-25 16:41:25", "INV-2026-000001", "3f2a1c2e-0000-4000-8000-000000000000", "25000.00 NGN", "1234567.89"],
)
def test_ordinary_values_are_left_alone(text: str) -> None:
    assert mask_text(text) == text
