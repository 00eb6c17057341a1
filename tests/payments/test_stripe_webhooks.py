"""Stripe webhooks on the public host: signed the real way, verified by the SDK, recorded once."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import Account
from apps.core.tenancy import use_public_schema
from apps.invoices.models import Invoice, InvoiceStatus
from apps.payments.charges import payment_charge_saved_method, payment_method_save
from apps.payments.models import ChargeAttempt, ChargeStatus, Payment, PaymentStatus
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.fake_stripe import FakeStripe, card_error, payment_intent, sign, webhook_event
from tests.payments.ledger import assert_ledger_consistent

pytestmark = pytest.mark.django_db

URL = "/webhooks/stripe/"


@pytest.fixture
def public_client() -> Client:
    return Client(HTTP_HOST=settings.BASE_DOMAIN)


def post(client: Client, payload: bytes, signature: str | None = None) -> Any:
    header = sign(payload, WEBHOOK_SECRET) if signature is None else signature
    response = client.post(URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    use_public_schema()
    return response


def charged_account(fake_stripe: FakeStripe, outcome: str, amount: str = "25000.00") -> tuple[Account, Invoice]:
    account = AccountFactory(currency="NGN")
    payment_method_save(account=account, customer_reference="cus_1", payment_method_reference=f"pm_{account.number}")
    invoice = open_invoice(account, amount)
    fake_stripe.will(outcome)
    payment_charge_saved_method(account=account, invoice=invoice)
    return account, invoice


def stored_intent(fake_stripe: FakeStripe, **changes: Any) -> dict[str, Any]:
    [intent] = fake_stripe.state.intents.values()
    return {**intent, **changes}


def succeeded_intent_for(account: Account, tenant: str = "alpha", minor_units: str = "10000") -> dict[str, Any]:
    """A PaymentIntent made outside our charges for `account` (e.g. by a checkout page)."""
    metadata = {"tenant": tenant, "account": str(account.pk)}
    return payment_intent({"amount": minor_units, "currency": "ngn", "metadata": metadata}, "succeeded")


def test_a_succeeded_webhook_for_a_processing_charge_records_the_payment_once(
    in_tenant_a: Tenant, fake_stripe: FakeStripe, public_client: Client
) -> None:
    account, invoice = charged_account(fake_stripe, "processing")
    intent = stored_intent(fake_stripe, status="succeeded", amount_received=2500000)
    payload = webhook_event("payment_intent.succeeded", intent)

    first = post(public_client, payload)
    replay = post(public_client, payload)

    with schema_context("alpha"):
        payment = Payment.objects.get()
        attempt = ChargeAttempt.objects.get()
        invoice.refresh_from_db()
        assert (payment.status, payment.amount, payment.gateway_reference) == (
            PaymentStatus.SUCCEEDED,
            Decimal("25000.00"),
            intent["id"],
        )
        assert (attempt.status, attempt.payment_id) == (ChargeStatus.SUCCEEDED, payment.pk)
        assert invoice.status == InvoiceStatus.PAID
        assert_ledger_consistent(account)
    assert (first.status_code, first.json()) == (
        200,
        {"result": "recorded", "detail": "", "tenant": "alpha", "payment": str(payment.pk)},
    )
    assert (replay.status_code, replay.json()["result"]) == (200, "duplicate")


def test_a_webhook_for_a_charge_already_recorded_by_the_charge_call_is_a_no_op(
    in_tenant_a: Tenant, fake_stripe: FakeStripe, public_client: Client
) -> None:
    charged_account(fake_stripe, "succeed")
    payload = webhook_event("payment_intent.succeeded", stored_intent(fake_stripe))

    response = post(public_client, payload)

    assert (response.status_code, response.json()["result"]) == (200, "duplicate")
    with schema_context("alpha"):
        assert Payment.objects.count() == 1


def test_a_payment_failed_webhook_records_the_failure_once(
    in_tenant_a: Tenant, fake_stripe: FakeStripe, public_client: Client
) -> None:
    _account, invoice = charged_account(fake_stripe, "processing")
    failed = card_error(fake_stripe.charges[0].params, "card_declined", "do_not_honor", "Your card was declined.")
    intent = stored_intent(
        fake_stripe, status="requires_payment_method", last_payment_error=failed["error"] | {"payment_intent": None}
    )
    payload = webhook_event("payment_intent.payment_failed", intent)

    assert post(public_client, payload).json()["result"] == "recorded"
    assert post(public_client, payload).json()["result"] == "duplicate"

    with schema_context("alpha"):
        payment = Payment.objects.get()
        assert (payment.status, payment.amount, payment.failure_code, payment.failure_message) == (
            PaymentStatus.FAILED,
            Decimal("25000.00"),
            "card_declined",
            "Your card was declined. (do_not_honor)",
        )
        assert ChargeAttempt.objects.get().status == ChargeStatus.FAILED
        invoice.refresh_from_db()
        assert invoice.amount_due == Decimal("25000.00")


def test_a_payment_made_outside_our_charges_is_recorded_for_the_account_in_its_metadata(
    in_tenant_a: Tenant, fake_stripe: FakeStripe, public_client: Client
) -> None:
    account = AccountFactory(currency="NGN")
    invoice = open_invoice(account, "7500.00")
    intent = payment_intent(
        {
            "amount": "750000",
            "currency": "ngn",
            "metadata": {"tenant": "alpha", "account": str(account.pk), "invoice": str(invoice.pk)},
        },
        "succeeded",
    )
    payload = webhook_event("payment_intent.succeeded", intent)

    assert post(public_client, payload).json()["result"] == "recorded"
    assert post(public_client, payload).json()["result"] == "duplicate"

    with schema_context("alpha"):
        payment = Payment.objects.get()
        assert (payment.amount, payment.gateway, payment.gateway_reference) == (
            Decimal("7500.00"),
            "stripe",
            intent["id"],
        )
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID


def test_the_webhook_is_recorded_in_the_tenant_named_by_the_metadata(
    tenant_a: Tenant, tenant_b: Tenant, fake_stripe: FakeStripe, public_client: Client
) -> None:
    with schema_context("beta"):
        account = AccountFactory(currency="NGN")
        open_invoice(account, "100.00")
    intent = succeeded_intent_for(account, tenant="beta")

    response = post(public_client, webhook_event("payment_intent.succeeded", intent))

    assert response.json()["tenant"] == "beta"
    with schema_context("beta"):
        assert Payment.objects.get().amount == Decimal("100.00")
    with schema_context("alpha"):
        assert not Payment.objects.exists()


@pytest.mark.parametrize(
    "signature",
    [
        "t=1,v1=deadbeef",
        "",
        "wrong-secret",
        "too-old",
    ],
)
def test_a_webhook_whose_signature_does_not_verify_is_refused_with_400(
    in_tenant_a: Tenant, fake_stripe: FakeStripe, public_client: Client, signature: str
) -> None:
    account = AccountFactory(currency="NGN")
    intent = succeeded_intent_for(account)
    payload = webhook_event("payment_intent.succeeded", intent)
    if signature == "wrong-secret":
        signature = sign(payload, "whsec_not_ours")
    elif signature == "too-old":
        signature = sign(payload, WEBHOOK_SECRET, timestamp=int(time.time()) - 301)

    response = post(public_client, payload, signature)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["title"] == "invalid_signature"
    with schema_context("alpha"):
        assert not Payment.objects.exists()


def test_a_tampered_payload_fails_verification(
    in_tenant_a: Tenant, fake_stripe: FakeStripe, public_client: Client
) -> None:
    account = AccountFactory(currency="NGN")
    intent = succeeded_intent_for(account)
    payload = webhook_event("payment_intent.succeeded", intent)
    tampered = payload.replace(b'"amount": 10000', b'"amount": 99990000')
    assert tampered != payload
    assert post(public_client, tampered, sign(payload, WEBHOOK_SECRET)).status_code == 400


def test_events_we_do_not_handle_and_intents_that_are_not_ours_are_acknowledged_and_ignored(
    fake_stripe: FakeStripe, public_client: Client, db: None
) -> None:
    created = webhook_event(
        "payment_intent.created", payment_intent({"amount": "100", "currency": "usd"}, "processing")
    )
    foreign = webhook_event(
        "payment_intent.succeeded",
        payment_intent({"amount": "100", "currency": "usd", "metadata": {"tenant": "nobody"}}, "succeeded"),
    )
    for payload in (created, foreign):
        response = post(public_client, payload)
        assert (response.status_code, response.json()["result"]) == (200, "ignored")


def test_the_webhook_only_accepts_post_and_is_not_served_on_tenant_hosts(
    fake_stripe: FakeStripe, public_client: Client, client_a: Client
) -> None:
    assert public_client.get(URL).status_code == 405
    assert client_a.post(URL, data=b"{}", content_type="application/json").status_code == 404


def test_without_a_webhook_secret_the_endpoint_answers_503(
    fake_stripe: FakeStripe, public_client: Client, settings: Any, db: None
) -> None:
    settings.STRIPE_WEBHOOK_SECRET = ""
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}).encode()
    assert post(public_client, payload).status_code == 503
