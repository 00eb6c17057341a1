"""Charging a saved card off-session through the real Stripe SDK against a local fake API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from apps.accounts.models import Account
from apps.core.errors import InvalidTransition, NotPermitted, ValidationFailed
from apps.events.models import Event
from apps.invoices.models import Invoice, InvoiceStatus
from apps.payments.charges import payment_charge_saved_method, payment_method_save
from apps.payments.gateways import ChargeNotSupported, GatewayUnavailable
from apps.payments.models import ChargeAttempt, ChargeStatus, Payment, PaymentMethodOnFile, PaymentStatus
from apps.payments.tasks import charge_saved_method
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice
from tests.payments.fake_stripe import FakeStripe
from tests.payments.ledger import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def card_on_file(account: Account, reference: str = "pm_card_visa") -> PaymentMethodOnFile:
    return payment_method_save(
        account=account,
        customer_reference=f"cus_{account.number}",
        payment_method_reference=f"{reference}_{account.number}",
        brand="visa",
        last4="4242",
    )


def carded_account_with_invoice(amount: str = "25000.00") -> tuple[Account, Invoice]:
    """An NGN account with a card on file and one open invoice."""
    account = AccountFactory(currency="NGN")
    card_on_file(account)
    return account, open_invoice(account, amount)


def test_a_saved_card_pays_the_invoice_with_a_confirmed_off_session_intent(
    in_tenant_a: Tenant, fake_stripe: FakeStripe
) -> None:
    account = AccountFactory(currency="NGN")
    method = card_on_file(account)
    invoice = open_invoice(account, "25000.00")

    attempt = payment_charge_saved_method(account=account, invoice=invoice)

    [request] = fake_stripe.charges
    assert request.params == {
        "amount": "2500000",
        "currency": "ngn",
        "customer": method.customer_reference,
        "payment_method": method.payment_method_reference,
        "confirm": "true",
        "off_session": "true",
        "description": f"Invoice {invoice.number}",
        "metadata": {
            "tenant": "alpha",
            "account": str(account.pk),
            "invoice": str(invoice.pk),
            "charge": str(attempt.pk),
        },
    }
    assert request.headers["Idempotency-Key"] == f"alpha-charge-{attempt.pk}"
    assert request.headers["Authorization"] == "Bearer sk_test_fake"
    payment = Payment.objects.get()
    [intent_id] = fake_stripe.state.intents
    assert (attempt.status, attempt.payment_id, attempt.gateway_reference) == ("succeeded", payment.pk, intent_id)
    assert (payment.status, payment.amount, payment.method, payment.gateway, payment.gateway_reference) == (
        PaymentStatus.SUCCEEDED,
        Decimal("25000.00"),
        "card",
        "stripe",
        intent_id,
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.PAID, 0)
    assert Event.objects.filter(type="payment.succeeded", subject=str(payment.pk)).count() == 1
    assert_ledger_consistent(account)


def test_a_declined_card_is_recorded_as_a_failed_payment_and_moves_no_money(
    in_tenant_a: Tenant, fake_stripe: FakeStripe
) -> None:
    account, invoice = carded_account_with_invoice()
    fake_stripe.will("decline")

    attempt = payment_charge_saved_method(account=account, invoice=invoice)

    payment = Payment.objects.get()
    [intent_id] = fake_stripe.state.intents
    assert (attempt.status, attempt.failure_code) == (ChargeStatus.FAILED, "card_declined")
    assert (payment.status, payment.amount, payment.failure_code, payment.failure_message) == (
        PaymentStatus.FAILED,
        Decimal("25000.00"),
        "card_declined",
        "Your card has insufficient funds. (insufficient_funds)",
    )
    assert payment.reference == intent_id
    assert payment.gateway_reference.startswith("ch_")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.OPEN, Decimal("25000.00"))
    assert Event.objects.filter(type="payment.failed", subject=str(payment.pk)).count() == 1
    assert_ledger_consistent(account)


def test_a_new_charge_after_a_decline_is_a_new_intent_with_a_new_key(
    in_tenant_a: Tenant, fake_stripe: FakeStripe
) -> None:
    account, invoice = carded_account_with_invoice()
    fake_stripe.will("decline", "succeed")

    first = payment_charge_saved_method(account=account, invoice=invoice)
    second = payment_charge_saved_method(account=account, invoice=invoice)

    keys = [request.headers["Idempotency-Key"] for request in fake_stripe.charges]
    assert keys == [first.idempotency_key, second.idempotency_key]
    assert first.idempotency_key != second.idempotency_key
    assert (first.status, second.status) == (ChargeStatus.FAILED, ChargeStatus.SUCCEEDED)
    assert sorted(Payment.objects.values_list("status", flat=True)) == ["failed", "succeeded"]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_a_charge_whose_answer_was_lost_is_retried_with_the_same_key_and_records_one_payment(
    in_tenant_a: Tenant, fake_stripe: FakeStripe
) -> None:
    account, invoice = carded_account_with_invoice()
    fake_stripe.will("drop")

    with pytest.raises(GatewayUnavailable):
        payment_charge_saved_method(account=account, invoice=invoice)
    pending = ChargeAttempt.objects.get()
    assert pending.status == ChargeStatus.PENDING
    assert Payment.objects.count() == 0

    retried = payment_charge_saved_method(account=account, invoice=invoice)

    assert retried.pk == pending.pk
    assert [r.headers["Idempotency-Key"] for r in fake_stripe.charges] == [pending.idempotency_key] * 2
    assert len(fake_stripe.state.intents) == 1  # Stripe charged once; the retry replayed it
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    with pytest.raises(InvalidTransition, match="nothing is due"):
        payment_charge_saved_method(account=account, invoice=invoice)
    assert len(fake_stripe.charges) == 2
    assert_ledger_consistent(account)


def test_the_sdk_retries_a_lost_answer_itself_with_the_same_key(
    in_tenant_a: Tenant, fake_stripe: FakeStripe, settings: object
) -> None:
    setattr(settings, "STRIPE_MAX_NETWORK_RETRIES", 2)  # noqa: B010 - the production default
    account, invoice = carded_account_with_invoice()
    fake_stripe.will("drop")

    attempt = payment_charge_saved_method(account=account, invoice=invoice)

    assert attempt.status == ChargeStatus.SUCCEEDED
    assert [r.headers["Idempotency-Key"] for r in fake_stripe.charges] == [attempt.idempotency_key] * 2
    assert len(fake_stripe.state.intents) == 1
    assert Payment.objects.count() == 1


def test_a_charge_that_is_still_processing_stays_pending_and_blocks_a_second_charge(
    in_tenant_a: Tenant, fake_stripe: FakeStripe
) -> None:
    account = AccountFactory(currency="NGN")
    card_on_file(account)
    open_invoice(account, "100.00")
    fake_stripe.will("processing")

    attempt = payment_charge_saved_method(account=account)
    again = payment_charge_saved_method(account=account, amount="40.00")

    assert (attempt.status, again.pk, again.status) == (ChargeStatus.PENDING, attempt.pk, ChargeStatus.PENDING)
    assert attempt.gateway_reference.startswith("pi_")
    assert len(fake_stripe.state.intents) == 1
    assert Payment.objects.count() == 0


def test_an_attempt_pending_past_the_idempotency_window_is_closed_before_a_new_charge(
    in_tenant_a: Tenant, fake_stripe: FakeStripe
) -> None:
    account = AccountFactory(currency="NGN")
    card_on_file(account)
    open_invoice(account, "100.00")
    fake_stripe.will("processing", "succeed")
    stale = payment_charge_saved_method(account=account)
    ChargeAttempt.objects.filter(pk=stale.pk).update(created_at=timezone.now() - dt.timedelta(hours=23, minutes=1))

    fresh = payment_charge_saved_method(account=account)

    stale.refresh_from_db()
    assert (stale.status, stale.failure_code, fresh.status) == ("failed", "expired", "succeeded")
    assert fresh.idempotency_key != stale.idempotency_key


def test_without_an_invoice_the_account_balance_is_charged_and_paid_oldest_first(
    in_tenant_a: Tenant, fake_stripe: FakeStripe
) -> None:
    account = AccountFactory(currency="USD")
    card_on_file(account)
    older = open_invoice(account, "10.00", due_date=dt.date(2026, 1, 1))
    newer = open_invoice(account, "15.50", due_date=dt.date(2026, 2, 1))

    attempt = payment_charge_saved_method(account=account)

    assert attempt.amount == Decimal("25.50")
    assert fake_stripe.charges[0].params["amount"] == "2550"
    assert fake_stripe.charges[0].params["metadata"]["invoice"] == ""
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, newer.status) == ("paid", "paid")
    account.refresh_from_db()
    assert account.balance == 0
    assert_ledger_consistent(account)


def test_a_partial_amount_is_charged_in_minor_units_of_a_three_decimal_currency(
    in_tenant_a: Tenant, fake_stripe: FakeStripe
) -> None:
    account = AccountFactory(currency="BHD")
    card_on_file(account)
    invoice = open_invoice(account, "12.345")

    payment_charge_saved_method(account=account, invoice=invoice, amount="2.005")

    assert fake_stripe.charges[0].params["amount"] == "2005"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == ("open", Decimal("10.340"))


def test_charges_are_refused_without_a_card_or_with_nothing_due(in_tenant_a: Tenant, fake_stripe: FakeStripe) -> None:
    account = AccountFactory(currency="NGN")
    invoice = open_invoice(account, "500.00")
    with pytest.raises(ValidationFailed, match="no saved payment method") as no_card:
        payment_charge_saved_method(account=account, invoice=invoice)
    assert no_card.value.code == "no_payment_method"
    card_on_file(account)
    with pytest.raises(ValidationFailed, match=r"more than the 500\.00 due"):
        payment_charge_saved_method(account=account, invoice=invoice, amount="500.01")
    other = AccountFactory(currency="NGN")
    card_on_file(other)
    with pytest.raises(InvalidTransition, match="owes nothing"):
        payment_charge_saved_method(account=other)
    assert fake_stripe.charges == []
    assert ChargeAttempt.objects.count() == 0


def test_a_clerk_without_the_payment_permission_cannot_charge(in_tenant_a: Tenant, fake_stripe: FakeStripe) -> None:
    account = AccountFactory(currency="NGN")
    card_on_file(account)
    invoice = open_invoice(account, "500.00")
    auditor = User.objects.create_user("auditor", password="x")
    with pytest.raises(NotPermitted):
        payment_charge_saved_method(account=account, invoice=invoice, actor=auditor)
    assert fake_stripe.charges == []


def test_a_manual_method_on_file_cannot_be_charged(in_tenant_a: Tenant, fake_stripe: FakeStripe) -> None:
    account = AccountFactory(currency="NGN")
    payment_method_save(
        account=account, gateway="manual", customer_reference="standing-order", payment_method_reference="SO-1"
    )
    invoice = open_invoice(account, "500.00")
    with pytest.raises(ChargeNotSupported):
        payment_charge_saved_method(account=account, invoice=invoice)
    attempt = ChargeAttempt.objects.get()
    assert (attempt.status, attempt.failure_code) == ("failed", "charge_not_supported")
    assert fake_stripe.charges == []


def test_saving_a_new_default_card_replaces_the_old_default(in_tenant_a: Tenant) -> None:
    account = AccountFactory(currency="NGN")
    first = card_on_file(account, "pm_first")
    second = card_on_file(account, "pm_second")
    first.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)
    kept = payment_method_save(
        account=account,
        customer_reference=second.customer_reference,
        payment_method_reference=first.payment_method_reference,
        make_default=False,
    )
    assert (kept.pk, kept.is_default) == (first.pk, False)
    assert Event.objects.filter(type="payment_method.saved").count() == 3
    with pytest.raises(ValidationFailed, match="another account"):
        payment_method_save(
            account=AccountFactory(currency="NGN"),
            customer_reference="cus_x",
            payment_method_reference=first.payment_method_reference,
        )


def test_the_celery_task_retries_a_lost_answer_with_the_same_key(in_tenant_a: Tenant, fake_stripe: FakeStripe) -> None:
    account, invoice = carded_account_with_invoice()
    fake_stripe.will("drop")

    outcome = charge_saved_method.apply(args=[str(account.pk), str(invoice.pk)]).get()

    attempt = ChargeAttempt.objects.get()
    assert outcome == {
        "charge": str(attempt.pk),
        "status": "succeeded",
        "payment": str(attempt.payment_id),
        "failure_code": "",
    }
    assert [r.headers["Idempotency-Key"] for r in fake_stripe.charges] == [attempt.idempotency_key] * 2
    assert Payment.objects.count() == 1
