"""Issue 4's "done when": with only the docs and a token, a platform engineer provisions a tenant,
opens an account, issues an invoice, records a payment with an Idempotency-Key and reads the
balance; every mistake on the way is a clear problem+json answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.api.conftest import PUBLIC_HOST, JsonClient, assert_problem, bearer, operator_token, token

pytestmark = pytest.mark.django_db


def mistake(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """A clear answer: problem+json with a title and detail, naming the field when one is wrong."""
    body = assert_problem(response, status, type_slug=PROBLEM_TYPES.get(status))
    if field is not None:
        assert field in body["errors"], body
    return body


PROBLEM_TYPES = {400: "validation-error", 422: "idempotency-key-reused"}


def test_a_platform_engineer_goes_from_a_new_tenant_to_a_paid_invoice(api: Client, outsider: JsonClient) -> None:
    docs = api.get("/api/v1/docs/")
    assert docs.status_code == 200
    paths = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for path in ("/api/v1/tenants/", "/api/v1/accounts/", "/api/v1/invoices/", "/api/v1/payments/"):
        assert "post" in paths[path], path

    operator = JsonClient(bearer(operator_token()))
    tenant: dict[str, Any] = {
        "slug": "zeta",
        "name": "Zeta Fibre",
        "currency": "NGN",
        "staff": {"username": "finance", "email": "finance@zeta.test", "password": "a-long-passphrase-9"},
    }
    mistake(operator.post("/api/v1/tenants/", {**tenant, "slug": "Not A Slug"}), 400, "slug")
    created = operator.post("/api/v1/tenants/", tenant, HTTP_IDEMPOTENCY_KEY="provision-zeta")
    assert created.status_code == 201, created.content

    zeta = JsonClient(bearer(token("zeta", roles=("billing.admin",), sub="platform-user-1")))
    mistake(zeta.post("/api/v1/accounts/", {"name": "Ada Obi", "currency": "XXY"}), 400, "currency")
    account = zeta.post(
        "/api/v1/accounts/",
        {"external_id": "sub-1001", "name": "Ada Obi", "email": "ada@example.com", "currency": "NGN"},
    ).json()
    line = {"description": "Fibre 100 Mbps, December", "quantity": "1", "unit_price": "25000.00"}
    invoice = zeta.post("/api/v1/invoices/", {"account": account["id"], "lines": [line], "finalize": True}).json()
    assert (invoice["status"], invoice["amount_due"]) == ("open", "25000.00")
    assert zeta.get(f"/api/v1/accounts/{account['id']}/").json()["balance"] == "25000.00"

    payment = {"account": account["id"], "amount": "25000.00", "currency": "NGN", "method": "bank_transfer"}
    mistake(zeta.post("/api/v1/payments/", {**payment, "amount": "25000.001"}), 400, "amount")
    mistake(zeta.post("/api/v1/payments/", {**payment, "currency": "USD"}), 400, "currency")
    first = zeta.post("/api/v1/payments/", payment, HTTP_IDEMPOTENCY_KEY="trf-778")
    again = zeta.post("/api/v1/payments/", payment, HTTP_IDEMPOTENCY_KEY="trf-778")
    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (201, 201, "true")
    assert again.json() == first.json()
    mistake(zeta.post("/api/v1/payments/", {**payment, "amount": "1.00"}, HTTP_IDEMPOTENCY_KEY="trf-778"), 422)

    assert zeta.get(f"/api/v1/accounts/{account['id']}/").json()["balance"] == "0.00"
    assert zeta.get(f"/api/v1/invoices/{invoice['id']}/").json()["status"] == "paid"
    assert [p["id"] for p in zeta.get("/api/v1/payments/").json()["results"]] == [first.json()["id"]]

    # Another tenant's credentials never see zeta's objects; no credential is a 401.
    assert outsider.get(f"/api/v1/invoices/{invoice['id']}/").status_code == 404
    anonymous = Client(HTTP_HOST=PUBLIC_HOST).get("/api/v1/accounts/")
    assert (anonymous.status_code, anonymous["Content-Type"]) == (401, "application/problem+json")
