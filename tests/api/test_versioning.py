"""Version constants, the X-Platform-Version matrix, and the headers on every response."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.api.conftest import assert_problem, bearer, operator_token

pytestmark = pytest.mark.django_db


def test_the_version_endpoint_answers_the_constants(api: Client) -> None:
    response = api.get("/api/v1/version/")
    assert response.status_code == 200
    assert response.json() == {
        "api_version": "v1",
        "sdk_version": "1.0.0",
        "platform_api_version": "1.0",
        "platform_compatible_versions": ["1.0", "1.1"],
        "min_platform_version": "1.0",
    }


@pytest.mark.parametrize("version", ["1.0", "1.1", " 1.1 "])
def test_a_compatible_platform_version_is_served(api: Client, version: str) -> None:
    assert api.get("/api/v1/version/", HTTP_X_PLATFORM_VERSION=version).status_code == 200


@pytest.mark.parametrize("version", ["2.0", "0.9", "", "1", "latest"])
def test_an_incompatible_platform_version_is_a_400_naming_the_supported_ones(api: Client, version: str) -> None:
    response = api.get("/api/v1/tenants/", HTTP_X_PLATFORM_VERSION=version, **bearer(operator_token()))
    body = assert_problem(
        response, 400, type_slug="unsupported-platform-version", detail_contains="supports platform versions 1.0, 1.1"
    )
    assert body["supported_versions"] == ["1.0", "1.1"]
    assert response["X-Billing-API-Version"] == "v1"


def test_every_response_carries_the_api_version_and_a_request_id(api: Client) -> None:
    for path in ("/api/v1/version/", "/api/v1/tenants/", "/api/v1/missing/", "/admin/login/", "/api/v1/docs/"):
        response = api.get(path)
        assert response["X-Billing-API-Version"] == "v1", path
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"]), path


@pytest.mark.parametrize(
    "request_id",
    ["abc", "5f1c2a9e-0d7b-4c8e-9a61-3f2d7c9b1e04", "01HZX3V9Q8K2M4N6P8R0T2W4Y6", "req.42:gw@edge/1+a=b-c"],
)
def test_a_sane_request_id_is_echoed(api: Client, request_id: str) -> None:
    assert api.get("/api/v1/version/", HTTP_X_REQUEST_ID=request_id)["X-Request-ID"] == request_id


@pytest.mark.parametrize("request_id", ["has space", "x" * 129, "-leading-dash", 'quote"d', "new\nline", "ünïcode"])
def test_an_unsafe_request_id_is_replaced_by_a_fresh_one(api: Client, request_id: str) -> None:
    echoed = api.get("/api/v1/version/", HTTP_X_REQUEST_ID=request_id)["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", echoed)
