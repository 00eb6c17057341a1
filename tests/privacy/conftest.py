"""A closed account with a paid invoice, a payment and a saved card: what erasure meets in practice."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import Account
from apps.accounts.services import account_close, account_update
from apps.invoices.models import Invoice
from apps.notifications.outbox import drain_all
from apps.payments.models import Payment, PaymentMethodOnFile
from apps.payments.services import AllocationInput, payment_record
from tests.accounts.factories import AccountFactory
from tests.api.conftest import JsonClient, admin, api, outsider, reader, writer  # noqa: F401
from tests.invoices.factories import open_invoice

ADA_EMAIL = "ada.obi@example.com"
ADA_PHONE = "+2348012345678"


@dataclass
class Customer:
    account: Account
    invoice: Invoice
    payment: Payment


@pytest.fixture
def closed_customer(tenant_a: object) -> Customer:
    """Ada, in tenant alpha: an invoice paid in full, a saved card, a changed address, closed."""
    with schema_context("alpha"):
        account = AccountFactory(
            name="Ada Obi",
            email="ada@example.org",
            phone=ADA_PHONE,
            external_id="sub-ada",
            address_line1="12 Marina Road",
            city="Lagos",
            tax_id="NG-TIN-123",
            metadata={"contact": ADA_EMAIL, "plan": "fibre-100"},
        )
        account = account_update(account=account, email=ADA_EMAIL)
        invoice = open_invoice(account, "25000.00")
        payment = payment_record(
            account=account,
            amount=Decimal("25000.00"),
            currency="NGN",
            method="bank_transfer",
            reference="TRF-778",
            allocations=[AllocationInput(invoice=invoice, amount=Decimal("25000.00"))],
            metadata={"payer_email": ADA_EMAIL},
        )
        PaymentMethodOnFile.objects.create(
            account=account, customer_reference="cus_1", payment_method_reference="pm_1", brand="visa", last4="4242"
        )
        account = account_close(account=Account.objects.get(pk=account.pk))
        drain_all()  # the payment's receipt is recorded, as the notice drain does after commit
        invoice.refresh_from_db()
        return Customer(account=account, invoice=invoice, payment=payment)
