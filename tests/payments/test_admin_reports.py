"""The AR aging report, the admin home dashboard and the account statement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.tenancy import tenant_today
from apps.invoices.selectors import ar_aging
from apps.payments.dashboard import dashboard_figures
from apps.payments.services import payment_record
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice

pytestmark = pytest.mark.django_db


def days_ago(days: int) -> dt.date:
    return tenant_today() - dt.timedelta(days=days)


def aging_ledger() -> None:
    """Open invoices in three currencies across every bucket, with partial payments and credit."""
    naira = AccountFactory(currency="NGN")
    for days, amount in [(-5, "100.10"), (0, "0.05"), (1, "200.20"), (30, "0.01"), (31, "300.30"), (75, "400.40")]:
        open_invoice(naira, amount, due_date=days_ago(days))
    open_invoice(naira, "999.99", due_date=days_ago(200))
    payment_record(account=naira, amount="0.99", currency="NGN", method="cash")  # the 200-day one, partly
    yen = AccountFactory(currency="JPY")
    open_invoice(yen, "1500", due_date=days_ago(95))
    open_invoice(yen, "700", due_date=days_ago(10))
    dinar = AccountFactory(currency="BHD")
    open_invoice(dinar, "1.255", due_date=days_ago(45))
    credit_holder = AccountFactory(currency="BHD")
    payment_record(account=credit_holder, amount="0.500", currency="BHD", method="cash")


def test_the_aging_buckets_are_exact_to_the_minor_unit_per_currency(in_tenant_a: Any) -> None:
    aging_ledger()
    rows = {row.currency: row for row in ar_aging(today=tenant_today())}
    assert rows["NGN"].buckets == {
        "current": Decimal("100.15"),
        "1_30": Decimal("200.21"),
        "31_60": Decimal("300.30"),
        "61_90": Decimal("400.40"),
        "90_plus": Decimal("999.00"),
    }
    assert (rows["NGN"].total, rows["NGN"].invoice_count, rows["NGN"].credit) == (Decimal("2000.06"), 7, 0)
    assert rows["JPY"].buckets == {
        "current": 0,
        "1_30": Decimal("700"),
        "31_60": 0,
        "61_90": 0,
        "90_plus": Decimal("1500"),
    }
    assert (rows["BHD"].buckets["31_60"], rows["BHD"].credit, rows["BHD"].net) == (
        Decimal("1.255"),
        Decimal("0.500"),
        Decimal("0.755"),
    )


def _statements(captured: CaptureQueriesContext) -> int:
    return sum(1 for query in captured.captured_queries if not query["sql"].startswith("SET search_path"))


def test_the_aging_takes_the_same_two_queries_whatever_the_invoices(in_tenant_a: Any) -> None:
    with CaptureQueriesContext(connection) as empty:
        ar_aging(today=tenant_today())
    aging_ledger()
    with CaptureQueriesContext(connection) as full:
        ar_aging(today=tenant_today())
    # Not counting django-tenants' `SET search_path`: issued once per schema switch
    # (TENANT_LIMIT_SET_CALLS), so only before the first of the two runs.
    assert _statements(empty) == _statements(full)
    selects = [query["sql"] for query in full.captured_queries if query["sql"].startswith("SELECT")]
    assert len(selects) == 2


def test_the_aging_page_links_each_bucket_to_its_invoices(auditor: Any, login_a: Any) -> None:
    aging_ledger()
    client = login_a(auditor)
    response = client.get(reverse("reports:aging"))
    content = response.content.decode()
    assert ">NGN999.00<" in content and ">¥1,500<" in content and ">BHD1.255<" in content
    for line in response.context["table"]:
        for cell in line["cells"]:
            listed = client.get(cell["url"]).context["cl"].result_list
            assert len(listed) == cell["count"]
            assert sum((invoice.amount_due for invoice in listed), Decimal(0)) == cell["amount"]
            assert {invoice.currency for invoice in listed} <= {line["row"].currency}


def test_the_admin_home_links_to_the_aging_report(clerk: Any, login_a: Any) -> None:
    content = login_a(clerk).get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("reports:aging")}"' in content


def test_the_dashboard_shows_receivables_overdue_collected_and_a_12_month_trend(clerk: Any, login_a: Any) -> None:
    account = AccountFactory(currency="NGN")
    open_invoice(account, "100.00", due_date=days_ago(10))
    open_invoice(account, "50.00", due_date=days_ago(-10))
    payment_record(account=account, amount="30.00", currency="NGN", method="cash")
    figures = {figure.currency: figure for figure in dashboard_figures().currencies}
    naira = figures["NGN"]
    assert (naira.open_receivables, naira.open_count) == (Decimal("120.00"), 2)
    assert (naira.overdue, naira.overdue_count) == (Decimal("70.00"), 1)
    assert (naira.collected_this_month, naira.collected_count) == (Decimal("30.00"), 1)
    this_month = tenant_today().replace(day=1)
    assert len(naira.trend) == 12 and list(naira.trend)[-1] == this_month
    assert naira.trend[this_month] == (Decimal("150.00"), Decimal("30.00"))
    content = login_a(clerk).get(reverse("admin:index")).content.decode()
    assert 'class="billing-open">NGN120.00<' in content
    assert content.count("<rect ") == 24
    assert f"{this_month:%B %Y} invoiced NGN150.00" in content
