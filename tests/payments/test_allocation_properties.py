"""Property test: any sequence of payments and refunds keeps the ledger consistent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.tenancy import use_tenant
from apps.payments.services import payment_record, payment_refund
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice
from tests.payments.ledger import assert_ledger_consistent

CASES = {"JPY": ["1", "999", "25000"], "USD": ["0.01", "19.99", "250.00"], "BHD": ["0.001", "12.345", "99.999"]}


class Rollback(Exception):
    pass


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    currency=st.sampled_from(sorted(CASES)),
    invoices=st.lists(st.integers(0, 2), min_size=1, max_size=4),
    payments=st.lists(st.integers(0, 2), min_size=1, max_size=4),
    refund_fraction=st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(1)]),
)
def test_payments_and_refunds_never_break_the_ledger(
    tenant_a: Tenant, currency: str, invoices: list[int], payments: list[int], refund_fraction: Decimal
) -> None:
    use_tenant(tenant_a)
    amounts = CASES[currency]
    try:
        with transaction.atomic():
            account = AccountFactory(currency=currency, phone="")
            for index in invoices:
                open_invoice(account, amounts[index])
            made = [
                payment_record(account=account, amount=amounts[index], currency=currency, method="cash")
                for index in payments
            ]
            assert_ledger_consistent(account)
            from apps.core.money import quantize

            refund = quantize(made[0].amount * refund_fraction, currency)
            if refund > 0:
                payment_refund(payment=made[0], amount=refund, reason="property test")
            assert_ledger_consistent(account)
            raise Rollback
    except Rollback:
        pass
