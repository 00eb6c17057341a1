"""POST payments/ under real concurrency: with one Idempotency-Key, one payment, however many retries race.

A committed tenant and a threaded server on 127.0.0.1: each request has its own connection.
"""

from __future__ import annotations

from decimal import Decimal

from apps.accounts.models import Account
from apps.core.tenancy import use_public_schema, use_tenant
from apps.invoices.models import Invoice
from apps.payments.models import Payment
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.api.conftest import post_together, token
from tests.invoices.factories import open_invoice


def test_racing_retries_of_one_payment_record_it_once(committed_tenant: Tenant, live_api: str) -> None:
    use_tenant(committed_tenant)
    account = AccountFactory()
    invoice = open_invoice(account, "25000.00")
    use_public_schema()
    credential = token(committed_tenant.schema_name, roles=("billing.write",), sub="gateway-user")
    body = {
        "account": str(account.pk),
        "amount": "25000.00",
        "currency": "NGN",
        "method": "bank_transfer",
        "reference": "TRF-778",
        "allocations": [{"invoice": str(invoice.pk), "amount": "25000.00"}],
    }
    headers = {"Authorization": f"Bearer {credential}", "Idempotency-Key": "pay-TRF-778"}
    responses = post_together(live_api, "/api/v1/payments/", 8, body, headers)

    assert [response.status_code for response in responses] == [201] * 8
    assert sum("Idempotent-Replayed" not in response.headers for response in responses) == 1
    assert len({response.json()["id"] for response in responses}) == 1
    use_tenant(committed_tenant)
    assert Payment.objects.count() == 1
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    assert Account.objects.get(pk=account.pk).balance == Decimal(0)


def test_without_a_key_the_same_race_records_every_payment(committed_tenant: Tenant, live_api: str) -> None:
    """The race above is real: without the key, each request is a payment of its own."""
    use_tenant(committed_tenant)
    account = AccountFactory()
    use_public_schema()
    credential = token(committed_tenant.schema_name, roles=("billing.write",), sub="gateway-user")
    body = {"account": str(account.pk), "amount": "100.00", "currency": "NGN", "method": "cash"}
    responses = post_together(live_api, "/api/v1/payments/", 4, body, {"Authorization": f"Bearer {credential}"})

    assert [response.status_code for response in responses] == [201] * 4
    use_tenant(committed_tenant)
    assert Payment.objects.count() == 4
    assert Account.objects.get(pk=account.pk).credit_balance == Decimal("400.00")
