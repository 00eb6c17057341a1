"""Charges racing on real parallel connections: one Stripe charge, one payment."""

from __future__ import annotations

from apps.core.errors import InvalidTransition
from apps.core.tenancy import use_tenant
from apps.payments.charges import payment_charge_saved_method
from apps.payments.models import ChargeAttempt, ChargeStatus, Payment
from apps.tenants.models import Tenant
from tests.payments.fake_stripe import FakeStripe
from tests.payments.ledger import assert_ledger_consistent
from tests.payments.test_charges import carded_account_with_invoice
from tests.payments.test_concurrency import race


def test_two_racing_charges_of_one_account_make_one_stripe_charge_and_one_payment(
    committed_tenant: Tenant, fake_stripe: FakeStripe
) -> None:
    use_tenant(committed_tenant)
    account, invoice = carded_account_with_invoice()

    outcomes = race(committed_tenant, 2, lambda: payment_charge_saved_method(account=account, invoice=invoice))

    use_tenant(committed_tenant)
    assert len(outcomes) == 2
    # The second caller either finished the same attempt (same key: Stripe replays it) or found
    # the invoice already paid.
    attempts = [outcome for outcome in outcomes if isinstance(outcome, ChargeAttempt)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, InvalidTransition)]
    assert len(attempts) + len(refusals) == 2
    assert len({attempt.pk for attempt in attempts}) == 1
    assert len(fake_stripe.state.intents) == 1
    assert len({r.headers["Idempotency-Key"] for r in fake_stripe.charges}) == 1
    assert Payment.objects.filter(account=account).count() == 1
    assert ChargeAttempt.objects.get(account=account).status == ChargeStatus.SUCCEEDED
    assert_ledger_consistent(account)
