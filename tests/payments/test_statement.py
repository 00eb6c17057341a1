"""Account statements: every movement between two balances that agree with the ledger."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission, User
from django.test import Client
from django_tenants.utils import schema_context
from pypdf import PdfReader

from apps.accounts.models import Account
from apps.invoices.credit_notes import credit_note_issue
from apps.invoices.models import Invoice
from apps.invoices.services import invoice_mark_uncollectible, invoice_void
from apps.payments.documents import statement_html, statement_pdf
from apps.payments.models import Payment
from apps.payments.selectors import AccountStatement, account_statement
from apps.payments.services import AllocationInput, payment_record, payment_refund
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice
from tests.payments.ledger import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 12, 0, tzinfo=dt.UTC)


def on(month: int, day: int) -> time_machine.travel:
    return time_machine.travel(at(month, day), tick=False)


def pay(account: Account, amount: str, **kwargs: object) -> Payment:
    return payment_record(account=account, amount=amount, currency="NGN", method="bank_transfer", **kwargs)  # type: ignore[arg-type]


def balance_at_end_of(account: Account, day: dt.date) -> Decimal:
    """The account's running balance as it stood at the end of `day` (from its audit history)."""
    moment = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    historical = account.history.as_of(moment)
    return historical.amount_due - historical.credit_balance


def assert_adds_up(statement: AccountStatement) -> None:
    assert statement.closing_balance == (
        statement.opening_balance
        + statement.invoiced
        - statement.voided
        - statement.credited
        - statement.paid
        + statement.refunded
        - statement.written_off
    )
    running = statement.opening_balance
    for line in statement.lines:
        running += line.amount
        assert line.balance == running
    assert running == statement.closing_balance


@pytest.fixture
def busy_account(in_tenant_a: Tenant) -> Account:
    """Three months of everything the ledger does, on known days."""
    with on(1, 5):
        account = AccountFactory(currency="NGN", country="NG", name="Ada Obi")
        first = open_invoice(account, "25000.00")
    with on(1, 10):
        pay(account, "10000.00", reference="TRF-1")
    with on(2, 3):
        open_invoice(account, "10000.00")
    with on(2, 4):
        credit_note_issue(invoice=first, amount="2000.00", reason="Outage in January")
    with on(2, 10):
        overpayment = pay(account, "30000.00", reference="TRF-2")  # 7,000 over: credit
    with on(2, 15):
        payment_refund(payment=overpayment, amount="5000.00", reason="Returned the overpayment")
    with on(3, 1):
        written = open_invoice(account, "5000.00")
    with on(3, 2):
        voided = open_invoice(account, "800.00")
    with on(3, 3):
        invoice_void(invoice=voided, reason="Issued twice")
    with on(3, 20):
        invoice_mark_uncollectible(invoice=written, reason="Moved away")
    with on(3, 25):
        pay(account, "1500.00", reference="TRF-3", allocations=[AllocationInput(invoice=written, amount="1500.00")])
    with on(4, 2):
        open_invoice(account, "4000.00")
    account.refresh_from_db()
    return account


def test_the_statement_of_a_month_lists_its_movements_between_the_ledgers_balances(busy_account: Account) -> None:
    statement = account_statement(account=busy_account, start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 28))

    assert statement.opening_balance == Decimal("15000.00") == balance_at_end_of(busy_account, dt.date(2026, 1, 31))
    assert [(line.date.day, line.kind, line.amount, line.balance) for line in statement.lines] == [
        (3, "invoice", Decimal("10000.00"), Decimal("25000.00")),
        (4, "credit_note", Decimal("-2000.00"), Decimal("23000.00")),
        (10, "payment", Decimal("-30000.00"), Decimal("-7000.00")),
        (15, "refund", Decimal("5000.00"), Decimal("-2000.00")),
    ]
    assert (statement.invoiced, statement.credited, statement.paid, statement.refunded) == (
        Decimal("10000.00"),
        Decimal("2000.00"),
        Decimal("30000.00"),
        Decimal("5000.00"),
    )
    assert statement.closing_balance == Decimal("-2000.00") == balance_at_end_of(busy_account, dt.date(2026, 2, 28))
    assert [line.reference for line in statement.lines][2:] == ["TRF-2", "TRF-2"]
    assert_adds_up(statement)


def test_voids_write_offs_and_recoveries_move_the_balance_on_the_day_they_happen(busy_account: Account) -> None:
    statement = account_statement(account=busy_account, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))

    assert statement.opening_balance == Decimal("-2000.00")
    assert [(line.date.day, line.kind, line.amount) for line in statement.lines] == [
        (1, "invoice", Decimal("5000.00")),
        (2, "invoice", Decimal("800.00")),
        (3, "void", Decimal("-800.00")),
        # Credit (2,000) was applied when the invoice was finalized, so 3,000 was written off.
        (20, "write_off", Decimal("-3000.00")),
        (25, "payment", Decimal("-1500.00")),
        (25, "recovery", Decimal("1500.00")),
    ]
    assert (statement.voided, statement.written_off) == (Decimal("800.00"), Decimal("1500.00"))
    assert statement.closing_balance == 0 == balance_at_end_of(busy_account, dt.date(2026, 3, 31))
    assert_adds_up(statement)


def test_the_statement_to_today_closes_on_the_accounts_balance(busy_account: Account) -> None:
    with on(4, 30):
        statement = account_statement(account=busy_account, start=dt.date(2026, 1, 1), end=dt.date(2026, 4, 30))
    assert statement.opening_balance == 0
    assert statement.closing_balance == busy_account.balance == Decimal("4000.00")
    assert len(statement.lines) == 13
    assert_adds_up(statement)
    assert_ledger_consistent(busy_account)


def test_every_day_boundary_agrees_with_the_audit_history(busy_account: Account) -> None:
    day = dt.date(2026, 1, 5)
    while day <= dt.date(2026, 4, 3):
        statement = account_statement(account=busy_account, start=day, end=day)
        assert statement.closing_balance == balance_at_end_of(busy_account, day), day
        assert_adds_up(statement)
        day += dt.timedelta(days=1)


def test_a_period_without_activity_has_equal_opening_and_closing(busy_account: Account) -> None:
    statement = account_statement(account=busy_account, start=dt.date(2026, 5, 1), end=dt.date(2026, 5, 31))
    assert (statement.opening_balance, statement.lines, statement.closing_balance) == (
        Decimal("4000.00"),
        (),
        Decimal("4000.00"),
    )


def test_the_statement_documents_show_the_balances_in_the_accounts_locale(busy_account: Account) -> None:
    statement = account_statement(account=busy_account, start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 28))
    html = statement_html(statement)
    assert "₦15,000.00" in html  # opening
    assert "-₦2,000.00" in html  # closing (credit)
    content = statement_pdf(statement)
    assert content.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    for expected in (busy_account.number, "Ada Obi", "₦15,000.00", "₦30,000.00", "TRF-2", "-₦2,000.00"):
        assert expected in text, expected


def _statement_url(account: Account, query: str = "") -> str:
    return f"/documents/accounts/{account.pk}/statement/{query}"


def test_the_statement_view_is_for_staff_with_the_account_view_permission(
    busy_account: Account, client_a: Client
) -> None:
    url = _statement_url(busy_account, "?start=2026-02-01&end=2026-02-28")
    anonymous = client_a.get(url)
    assert (anonymous.status_code, anonymous["Location"]) == (
        302,
        f"/admin/login/?next=/documents/accounts/{busy_account.pk}/statement/%3Fstart%3D2026-02-01%26end%3D2026-02-28",
    )
    clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
    client_a.force_login(clerk)
    assert client_a.get(url).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_account"))

    page = client_a.get(url)
    pdf = client_a.get(url + "&format=pdf")

    assert page.status_code == 200
    assert "₦15,000.00" in page.content.decode()
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF")
    assert client_a.get(_statement_url(busy_account, "?start=2026-02-30")).status_code == 400
    assert client_a.get(_statement_url(busy_account, "?start=2026-03-01&end=2026-02-01")).status_code == 400


def test_another_tenants_account_statement_is_not_found(busy_account: Account, client_b: Client) -> None:
    assert Invoice.objects.filter(account=busy_account).count() == 5
    with schema_context("beta"):
        clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
        clerk.user_permissions.add(Permission.objects.get(codename="view_account"))
        client_b.force_login(clerk)
    assert client_b.get(_statement_url(busy_account)).status_code == 404
