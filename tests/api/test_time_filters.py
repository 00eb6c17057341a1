"""Time filters accept every offset ISO 8601 allows and refuse what leaves the calendar."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api.conftest import assert_problem, bearer, token


@pytest.mark.parametrize(
    ("path", "param"), [("/api/v1/events/", "created_after"), ("/api/v1/payments/", "received_after")]
)
def test_an_offset_postgresql_would_refuse_is_answered_not_a_500(api: Client, path: str, param: str) -> None:
    response = api.get(path, {param: "5767-06-10T22:01:04-23:23"}, **bearer(token()))
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_time_outside_the_calendar_is_a_400(api: Client) -> None:
    response = api.get("/api/v1/events/", {"created_after": "9999-12-31T23:59:59-23:00"}, **bearer(token()))
    assert_problem(response, 400, type_slug="validation-error")
