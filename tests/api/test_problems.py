"""Every error under /api/ is application/problem+json, also with DEBUG, never a 500 on bad input."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api.conftest import assert_problem, bearer, operator_token, token

pytestmark = pytest.mark.django_db

TENANTS = "/api/v1/tenants/"


def test_unmatched_api_urls_are_404_problems(api: Client) -> None:
    for path in ("/api/", "/api/v1/", "/api/v1/nothing-here/", "/api/v2/tenants/", "/api/v1/tenants/alpha/bogus/"):
        assert_problem(api.get(path), 404, detail_contains=f"No API endpoint at {path}")


def test_a_missing_trailing_slash_is_a_404_that_says_so(api: Client) -> None:
    body = assert_problem(api.post("/api/v1/tenants", {}, content_type="application/json"), 404)
    assert body["detail"] == "No API endpoint at /api/v1/tenants. API paths end with a slash: /api/v1/tenants/"


def test_with_debug_on_errors_are_still_problems(api: Client, settings) -> None:
    settings.DEBUG = True
    assert_problem(api.get("/api/v1/nothing-here/"), 404)
    assert_problem(api.post("/api/v1/tenants", {}, content_type="application/json"), 404)
    assert_problem(api.get(TENANTS), 401)
    assert_problem(api.get(f"{TENANTS}nobody/", **bearer(operator_token())), 404)
    assert_problem(
        api.post(TENANTS, "{oops", content_type="application/json", **bearer(operator_token())),
        400,
        type_slug="malformed-request",
    )


def test_an_unknown_tenant_host_answers_a_problem_under_api(db: None) -> None:
    response = Client(HTTP_HOST="nobody.localhost").get("/api/v1/version/")
    assert_problem(response, 404)
    page = Client(HTTP_HOST="nobody.localhost").get("/admin/")
    assert page.status_code == 404 and b"No billing workspace here" in page.content


def test_method_not_allowed_is_a_405_problem_with_allow(api: Client) -> None:
    response = api.put(TENANTS, {}, content_type="application/json", **bearer(operator_token()))
    body = assert_problem(response, 405, detail_contains='Method "PUT" not allowed')
    assert body["title"] == "Method Not Allowed"
    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_a_body_that_is_not_json_is_a_415_problem(api: Client) -> None:
    response = api.post(
        TENANTS, "slug=acme", content_type="application/x-www-form-urlencoded", **bearer(operator_token())
    )
    assert_problem(response, 415, detail_contains="application/x-www-form-urlencoded")


@pytest.mark.parametrize(
    "raw",
    ['{"slug": "acme",', '{"slug": NaN}', '{"amount": Infinity}', "\xff\xfe", '{"a": 1} trailing'],
)
def test_malformed_json_is_a_400_problem(api: Client, raw: str) -> None:
    response = api.post(TENANTS, raw.encode("latin-1"), content_type="application/json", **bearer(operator_token()))
    assert_problem(response, 400, type_slug="malformed-request", detail_contains="JSON parse error")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[]", "Invalid data. Expected a dictionary, but got list."),
        ('"a string"', "Invalid data. Expected a dictionary, but got str."),
        ("42", "Invalid data. Expected a dictionary, but got int."),
        ("null", "No data provided"),
    ],
)
def test_json_that_is_not_an_object_is_a_400_validation_problem(api: Client, body: str, message: str) -> None:
    response = api.post(TENANTS, body, content_type="application/json", **bearer(operator_token()))
    problem = assert_problem(response, 400, type_slug="validation-error", detail_contains=message)
    assert problem["errors"] == {"non_field_errors": [message]}


def test_field_errors_name_each_field_including_nested_ones(api: Client) -> None:
    response = api.post(
        TENANTS,
        {
            "slug": 5,
            "name": ["not", "text"],
            "staff": {"email": "nope", "password": "short"},
            "domains": ["ok.test", "-"],
        },
        content_type="application/json",
        **bearer(operator_token()),
    )
    problem = assert_problem(response, 400, type_slug="validation-error")
    assert problem["title"] == "Invalid request"
    assert problem["errors"] == {
        "slug": ["This value does not match the required pattern."],
        "name": ["Not a valid string."],
        "staff.email": ["Enter a valid email address."],
        "staff.password": ["Ensure this field has at least 8 characters."],
        "domains.1": ["This value does not match the required pattern."],
    }
    assert problem["detail"] == "Invalid fields: slug, name, staff.email, staff.password, domains.1."


def test_unauthenticated_and_forbidden_are_401_and_403_problems(api: Client) -> None:
    assert_problem(api.get(TENANTS), 401)
    assert_problem(
        api.get(TENANTS, **bearer(token(roles=("billing.admin",)))),
        403,
        detail_contains="needs the role platform.admin",
    )


def test_a_client_accepting_only_html_or_problems_still_gets_json(api: Client) -> None:
    html = api.get("/api/v1/version/", HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and html["Content-Type"] == "application/json"
    problem_only = api.get(TENANTS, HTTP_ACCEPT="application/problem+json")
    assert_problem(problem_only, 401)


def test_absurd_input_is_refused_not_crashed_on(api: Client) -> None:
    operator = bearer(operator_token())
    huge = {"slug": "a" * 10_000, "name": "x" * 100_000, "staff": {"email": "a@b.test", "password": "p" * 129}}
    problem = assert_problem(
        api.post(TENANTS, huge, content_type="application/json", **operator), 400, type_slug="validation-error"
    )
    assert set(problem["errors"]) == {"slug", "name", "staff.password"}
    deep = "[" * 5000 + "]" * 5000
    assert_problem(
        api.post(TENANTS, deep, content_type="application/json", **operator),
        400,
        type_slug="malformed-request",
        detail_contains="nested too deeply",
    )
    keyed = api.post(TENANTS, deep, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep", **operator)
    assert_problem(keyed, 400, type_slug="malformed-request")
    assert_problem(api.get(f"{TENANTS}?cursor=%00%ff", **operator), 404, detail_contains="Invalid cursor")
    assert api.get(f"{TENANTS}?limit=-5&ordering=password", **operator).status_code == 200
    assert_problem(api.get(f"{TENANTS}?status=frozen", **operator), 400, type_slug="validation-error")
