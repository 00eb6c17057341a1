"""`accounts/`: create, look up by external_id, update, suspend, reactivate, close; all through services."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.accounts.models import Account
from apps.events.models import Event
from tests.api.conftest import JsonClient, assert_problem

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts/"
ADA = {
    "external_id": "sub-1001",
    "name": "Ada Obi",
    "email": "ada@example.com",
    "phone": "+234 801 234 5678",
    "currency": "ngn",
    "locale": "en",
}


def create(client: JsonClient, **changes: object) -> dict:
    response = client.post(ACCOUNTS, {**ADA, **changes})
    assert response.status_code == 201, response.content
    return response.json()


def test_the_platform_opens_an_account(writer: JsonClient) -> None:
    response = writer.post(ACCOUNTS, ADA)
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"ACC-\d{6}", body["number"])
    assert {key: body[key] for key in ("external_id", "name", "email", "phone", "status", "currency", "locale")} == {
        "external_id": "sub-1001",
        "name": "Ada Obi",
        "email": "ada@example.com",
        "phone": "+2348012345678",
        "status": "active",
        "currency": "NGN",
        "locale": "en",
    }
    assert (body["balance"], body["amount_due"], body["credit_balance"]) == ("0.00", "0.00", "0.00")
    assert response["Location"] == f"http://localhost{ACCOUNTS}{body['id']}/"
    with schema_context("alpha"):
        account = Account.objects.get(pk=body["id"])
        assert account.history.get().history_change_reason == "api platform_token: walter@alpha"
        assert account.history.get().history_user is None
        event = Event.objects.get(type="account.created", subject=body["id"])
        assert event.data["external_id"] == "sub-1001"


def test_an_account_is_found_by_its_external_id(writer: JsonClient, reader: JsonClient) -> None:
    ada = create(writer)
    create(writer, external_id="sub-1002", name="Bola")
    found = reader.get(f"{ACCOUNTS}?external_id=sub-1001").json()
    assert [account["id"] for account in found["results"]] == [ada["id"]]
    assert reader.get(f"{ACCOUNTS}?external_id=nobody").json()["results"] == []
    assert reader.get(f"{ACCOUNTS}{ada['id']}/").json() == ada


def test_lists_paginate_by_cursor_without_counting(writer: JsonClient, reader: JsonClient) -> None:
    ids = [create(writer, external_id=f"sub-{n}", name=f"Customer {n}")["id"] for n in range(3)]
    with CaptureQueriesContext(connection) as queries:
        first = reader.get(f"{ACCOUNTS}?limit=2").json()
    assert not any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)
    assert [account["id"] for account in first["results"]] == ids[::-1][:2]
    second = reader.get(first["next"]).json()
    assert [account["id"] for account in second["results"]] == ids[:1]
    assert second["next"] is None


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"currency": "XXY"}, "currency", "unknown currency 'XXY'"),
        ({"currency": "NG"}, "currency", "This value does not match the required pattern."),
        ({"phone": "12345"}, "phone", "is not an E.164 phone number"),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"locale": "de"}, "locale", '"de" is not a valid choice.'),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown timezone 'Mars/Olympus'"),
        ({"name": ""}, "name", "This field may not be blank."),
        ({"payment_terms_days": -1}, "payment_terms_days", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_bad_account_data_is_a_field_error(writer: JsonClient, change: dict, field: str, message: str) -> None:
    problem = assert_problem(writer.post(ACCOUNTS, {**ADA, **change}), 400, type_slug="validation-error")
    assert list(problem["errors"]) == [field]
    assert message in problem["errors"][field][0]


def test_an_external_id_is_unique(writer: JsonClient) -> None:
    create(writer)
    problem = assert_problem(writer.post(ACCOUNTS, ADA), 400, type_slug="validation-error")
    assert problem["errors"] == {"external_id": ["an account with external_id 'sub-1001' already exists"]}


def test_details_change_but_never_the_currency(writer: JsonClient) -> None:
    ada = create(writer)
    changed = writer.patch(f"{ACCOUNTS}{ada['id']}/", {"email": "ada.obi@example.com", "tags": ["vip"]})
    assert changed.status_code == 200
    assert (changed.json()["email"], changed.json()["tags"]) == ("ada.obi@example.com", ["vip"])
    problem = assert_problem(
        writer.patch(f"{ACCOUNTS}{ada['id']}/", {"currency": "USD"}), 400, type_slug="validation-error"
    )
    assert problem["errors"] == {"currency": ["an account's currency cannot change"]}
    assert_problem(
        writer.client.put(f"{ACCOUNTS}{ada['id']}/", {}, content_type="application/json", **writer.headers), 405
    )


def test_suspend_reactivate_and_close(writer: JsonClient, admin: JsonClient) -> None:
    ada = create(writer)
    path = f"{ACCOUNTS}{ada['id']}/"
    suspended = writer.post(f"{path}suspend/", {"reason": "Requested by customer"}).json()
    assert (suspended["status"], suspended["suspension_reason"]) == ("suspended", "Requested by customer")
    assert writer.post(f"{path}reactivate/", {}).json()["status"] == "active"
    assert_problem(writer.post(f"{path}close/"), 403, detail_contains="billing.admin")
    closed = admin.post(f"{path}close/").json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    problem = assert_problem(writer.post(f"{path}suspend/"), 409, type_slug="invalid-transition")
    assert problem["detail"] == "a closed account cannot be suspended"
    with schema_context("alpha"):
        assert list(Event.objects.filter(subject=ada["id"]).order_by("sequence").values_list("type", flat=True)) == [
            "account.created",
            "account.suspended",
            "account.reactivated",
            "account.closed",
        ]


def test_an_account_that_owes_cannot_be_closed(writer: JsonClient, admin: JsonClient) -> None:
    ada = create(writer)
    writer.post(
        "/api/v1/invoices/",
        {"account": ada["id"], "lines": [{"description": "Fibre", "unit_price": "25000"}], "finalize": True},
    )
    problem = assert_problem(admin.post(f"{ACCOUNTS}{ada['id']}/close/"), 409, type_slug="invalid-transition")
    assert problem["detail"] == "the account still owes 25000.00 NGN"


def test_readers_read_and_only_writers_write(reader: JsonClient, writer: JsonClient) -> None:
    assert_problem(reader.post(ACCOUNTS, ADA), 403, detail_contains="billing.write")
    ada = create(writer)
    assert reader.get(f"{ACCOUNTS}{ada['id']}/").status_code == 200
    assert_problem(reader.patch(f"{ACCOUNTS}{ada['id']}/", {"name": "x"}), 403)
    assert_problem(reader.post(f"{ACCOUNTS}{ada['id']}/suspend/"), 403)
