"""Tenant A's credentials never see or touch tenant B's objects: 404 (never 403), so ids do not leak."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import Account
from apps.invoices.models import CreditNote, Invoice
from apps.payments.models import Payment
from apps.tenants.models import Tenant
from apps.tenants.services import api_key_create
from tests.api.conftest import JsonClient, assert_problem, bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def beta_objects(outsider: JsonClient) -> dict[str, str]:
    """An account, an open invoice, a draft, a payment and a credit note in tenant beta."""
    account = outsider.post("/api/v1/accounts/", {"name": "Beta customer", "currency": "USD"}).json()
    line = [{"description": "Service", "unit_price": "100.00"}]
    invoice = outsider.post("/api/v1/invoices/", {"account": account["id"], "lines": line, "finalize": True}).json()
    draft = outsider.post("/api/v1/invoices/", {"account": account["id"], "lines": line}).json()
    payment = outsider.post(
        "/api/v1/payments/", {"account": account["id"], "amount": "30.00", "currency": "USD", "method": "cash"}
    ).json()
    note = outsider.post("/api/v1/credit-notes/", {"invoice": invoice["id"], "amount": "10.00", "reason": "x"}).json()
    return {
        "account": account["id"],
        "invoice": invoice["id"],
        "draft": draft["id"],
        "payment": payment["id"],
        "credit_note": note["id"],
    }


def beta_state() -> list[Any]:
    with schema_context("beta"):
        return [
            list(Account.objects.values_list("id", "status", "name", "amount_due", "credit_balance")),
            list(Invoice.objects.values_list("id", "status", "amount_due", "memo")),
            list(Payment.objects.values_list("id", "amount_refunded")),
            list(CreditNote.objects.values_list("id", "amount")),
        ]


@pytest.fixture(params=["platform_token", "api_key"])
def alpha(request: pytest.FixtureRequest, admin: JsonClient, tenant_a: Tenant) -> JsonClient:
    if request.param == "platform_token":
        return admin
    _, key = api_key_create(tenant=tenant_a, name="sync", scope="read_write")
    return JsonClient(bearer(key))


def test_another_tenants_ids_are_not_found_on_any_endpoint(alpha: JsonClient, beta_objects: dict) -> None:
    before = beta_state()
    ids = beta_objects
    for path in (
        f"/api/v1/accounts/{ids['account']}/",
        f"/api/v1/accounts/{ids['account']}/statement/",
        f"/api/v1/invoices/{ids['invoice']}/",
        f"/api/v1/invoices/{ids['invoice']}/pdf/",
        f"/api/v1/payments/{ids['payment']}/",
        f"/api/v1/credit-notes/{ids['credit_note']}/",
    ):
        assert_problem(alpha.get(path), 404)
    for path in (
        f"/api/v1/accounts/{ids['account']}/suspend/",
        f"/api/v1/accounts/{ids['account']}/reactivate/",
        f"/api/v1/accounts/{ids['account']}/close/",
        f"/api/v1/invoices/{ids['draft']}/finalize/",
        f"/api/v1/invoices/{ids['invoice']}/send/",
        f"/api/v1/invoices/{ids['invoice']}/void/",
        f"/api/v1/invoices/{ids['invoice']}/mark-uncollectible/",
        f"/api/v1/payments/{ids['payment']}/refund/",
    ):
        response = alpha.post(path, {"amount": "1.00", "reason": "x"})
        assert response.status_code in (403, 404), path  # an API key lacks billing.admin: 403 before lookup
        if response.status_code == 403:
            assert "billing.admin" in response.json()["detail"]
    assert_problem(alpha.patch(f"/api/v1/accounts/{ids['account']}/", {"name": "Mine now"}), 404)
    assert_problem(alpha.patch(f"/api/v1/invoices/{ids['draft']}/", {"memo": "Mine now"}), 404)
    assert_problem(alpha.delete(f"/api/v1/invoices/{ids['draft']}/"), 404)
    assert beta_state() == before


def test_another_tenants_ids_in_a_body_are_unknown(alpha: JsonClient, beta_objects: dict) -> None:
    before = beta_state()
    ids = beta_objects
    line = [{"description": "x", "unit_price": "1"}]
    problem = assert_problem(
        alpha.post("/api/v1/invoices/", {"account": ids["account"], "lines": line}), 400, type_slug="validation-error"
    )
    assert problem["errors"] == {"account": [f"no account {ids['account']}"]}
    problem = assert_problem(
        alpha.post(
            "/api/v1/payments/", {"account": ids["account"], "amount": "1.00", "currency": "USD", "method": "cash"}
        ),
        400,
        type_slug="validation-error",
    )
    assert problem["errors"] == {"account": [f"no account {ids['account']}"]}
    problem = assert_problem(
        alpha.post("/api/v1/credit-notes/", {"invoice": ids["invoice"], "amount": "1.00", "reason": "x"}),
        400,
        type_slug="validation-error",
    )
    assert problem["errors"] == {"invoice": [f"no invoice {ids['invoice']}"]}
    own = alpha.post("/api/v1/accounts/", {"name": "Alpha customer", "currency": "USD"}).json()
    problem = assert_problem(
        alpha.post(
            "/api/v1/payments/",
            {
                "account": own["id"],
                "amount": "1.00",
                "currency": "USD",
                "method": "cash",
                "allocations": [{"invoice": ids["invoice"], "amount": "1.00"}],
            },
        ),
        400,
        type_slug="validation-error",
    )
    assert problem["errors"] == {"allocations.0.invoice": [f"invoice {ids['invoice']} does not belong to this account"]}
    assert beta_state() == before


def test_lists_show_only_the_credentials_tenant(alpha: JsonClient, beta_objects: dict) -> None:
    for resource in ("accounts", "invoices", "payments", "credit-notes"):
        assert alpha.get(f"/api/v1/{resource}/").json()["results"] == [], resource
    assert alpha.get(f"/api/v1/invoices/?account={beta_objects['account']}").json()["results"] == []
