"""The demo data that `make run` seeds is realistic and consistent with the ledger."""

from __future__ import annotations

import pytest
from django.db.models import Count

from apps.accounts.models import Account
from apps.invoices.models import Invoice
from apps.tenants.models import Tenant
from billing_project.demo import seed_tenant_demo
from tests.payments.ledger import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def test_demo_data_covers_every_invoice_state_and_keeps_every_balance_exact(in_tenant_a: Tenant) -> None:
    counts = seed_tenant_demo(slug="demo-test", default_currency="NGN", accounts=40)
    assert counts["accounts"] == 40
    statuses = dict(Invoice.objects.values_list("status").annotate(n=Count("id")))
    assert set(statuses) == {"draft", "open", "paid", "void", "uncollectible"}
    assert Account.objects.values("currency").distinct().count() > 1
    for account in Account.objects.all():
        assert_ledger_consistent(account)
    assert seed_tenant_demo(slug="demo-test", default_currency="NGN", accounts=40) == {"accounts": 0}
