"""Two payments racing for one invoice, on real parallel connections, never over-allocate it."""

from __future__ import annotations

import threading
from decimal import Decimal

from django.db import connection

from apps.core.errors import ValidationFailed
from apps.core.tenancy import use_tenant
from apps.invoices.models import Invoice
from apps.payments.models import Payment
from apps.payments.services import AllocationInput, payment_record
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice
from tests.payments.ledger import assert_ledger_consistent


def race(tenant: Tenant, workers: int, work: object) -> list[object]:
    """Run `work()` on `workers` threads, each with its own database connection, released together."""
    barrier = threading.Barrier(workers)
    outcomes: list[object] = []

    def run() -> None:
        try:
            use_tenant(tenant)
            barrier.wait(timeout=30)
            outcomes.append(work())  # type: ignore[operator]
        except Exception as exc:  # the outcome under test
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_payments_allocating_to_the_same_invoice_never_over_allocate(committed_tenant: Tenant) -> None:
    use_tenant(committed_tenant)
    account = AccountFactory()
    invoice = open_invoice(account, "100.00")

    def pay_the_invoice() -> Payment:
        return payment_record(
            account=account,
            amount="100.00",
            currency="NGN",
            method="bank_transfer",
            allocations=[AllocationInput(invoice.pk, "100.00")],
        )

    outcomes = race(committed_tenant, 2, pay_the_invoice)
    use_tenant(committed_tenant)
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Payment", "ValidationFailed"]
    refused = next(outcome for outcome in outcomes if isinstance(outcome, ValidationFailed))
    assert "is paid" in str(refused)
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.status, invoice.amount_paid) == ("paid", Decimal("100.00"))
    assert_ledger_consistent(account)


def test_many_parallel_payments_on_one_account_keep_the_ledger_exact(committed_tenant: Tenant) -> None:
    use_tenant(committed_tenant)
    account = AccountFactory()
    for _ in range(3):
        open_invoice(account, "30.00")

    def pay_something() -> Payment:
        return payment_record(account=account, amount="25.00", currency="NGN", method="cash")

    outcomes = race(committed_tenant, 6, pay_something)
    use_tenant(committed_tenant)
    assert all(isinstance(outcome, Payment) for outcome in outcomes)
    account.refresh_from_db()
    assert (account.amount_due, account.credit_balance) == (Decimal(0), Decimal("60.00"))
    assert_ledger_consistent(account)
