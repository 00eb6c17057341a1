"""Invoice lifecycle: draft -> open -> paid, void, uncollectible; numbering; refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from apps.accounts.services import account_update
from apps.core.errors import InvalidTransition, ValidationFailed
from apps.events.models import Event
from apps.invoices.models import InvoiceStatus, TaxRate
from apps.invoices.services import (
    LineInput,
    invoice_create,
    invoice_finalize,
    invoice_mark_sent,
    invoice_mark_uncollectible,
    invoice_update_draft,
    invoice_void,
)
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import draft_invoice, open_invoice

pytestmark = pytest.mark.django_db


def test_a_draft_has_totals_but_no_number_and_owes_nothing_yet(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    vat = TaxRate.objects.create(name="VAT", percentage=Decimal("7.5"))
    invoice = invoice_create(
        account=account,
        lines=[
            LineInput("Fibre 100 Mbps, December", unit_price="25000.00", tax_rate=vat),
            LineInput("Router rental", unit_price="1500.005", quantity="2", discount="500.00"),
        ],
    )
    assert (invoice.number, invoice.status) == (None, InvoiceStatus.DRAFT)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (
        Decimal("27500.01"),
        Decimal("1875.00"),
        Decimal("29375.01"),
    )
    account.refresh_from_db()
    assert account.balance == 0


@time_machine.travel(dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC), tick=False)
def test_finalizing_numbers_freezes_and_dates_the_invoice(in_tenant_a: Tenant) -> None:
    account = AccountFactory(name="Ada Obi", payment_terms_days=30)
    first = invoice_finalize(invoice=draft_invoice(account, "100.00"))
    second = invoice_finalize(invoice=draft_invoice(account, "50.00"))
    assert (first.number, second.number) == ("INV-2026-000001", "INV-2026-000002")
    assert (first.issue_date, first.due_date) == (dt.date(2026, 3, 10), dt.date(2026, 4, 9))
    assert first.account_snapshot["name"] == "Ada Obi"
    assert first.status == InvoiceStatus.OPEN
    account_update(account=account, name="Renamed")
    first.refresh_from_db()
    assert first.account_snapshot["name"] == "Ada Obi"
    account.refresh_from_db()
    assert account.balance == Decimal("150.00")
    finalized = Event.objects.filter(type="invoice.finalized").order_by("sequence")
    assert [e.data["number"] for e in finalized] == ["INV-2026-000001", "INV-2026-000002"]
    assert finalized[0].data["total"] == "100.00"


def test_a_due_date_given_at_creation_is_kept_even_in_the_past(in_tenant_a: Tenant) -> None:
    invoice = open_invoice(AccountFactory(), "10.00", due_date=dt.date(2020, 1, 31))
    assert invoice.due_date == dt.date(2020, 1, 31)


def test_numbers_restart_each_year(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    with time_machine.travel(dt.datetime(2026, 12, 31, 12, tzinfo=dt.UTC), tick=False):
        last = open_invoice(account, "1.00")
    with time_machine.travel(dt.datetime(2027, 1, 1, 12, tzinfo=dt.UTC), tick=False):
        first = open_invoice(account, "1.00")
    assert (last.number, first.number) == ("INV-2026-000001", "INV-2027-000001")


def test_a_finalized_invoice_cannot_be_edited_or_finalized_again(in_tenant_a: Tenant) -> None:
    invoice = open_invoice(AccountFactory(), "10.00")
    with pytest.raises(InvalidTransition, match="only drafts can be edited"):
        invoice_update_draft(invoice=invoice, lines=[LineInput("x", unit_price="1.00")])
    with pytest.raises(InvalidTransition, match="already open"):
        invoice_finalize(invoice=invoice)


def test_an_empty_draft_cannot_be_finalized(in_tenant_a: Tenant) -> None:
    invoice = invoice_create(account=AccountFactory(), lines=[])
    with pytest.raises(ValidationFailed, match="at least one line"):
        invoice_finalize(invoice=invoice)


def test_voiding_takes_the_invoice_out_of_the_balance(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "80.00")
    invoice = invoice_void(invoice=invoice, reason="issued twice")
    account.refresh_from_db()
    assert (invoice.status, account.balance) == (InvoiceStatus.VOID, 0)
    with pytest.raises(InvalidTransition):
        invoice_void(invoice=invoice)
    with pytest.raises(InvalidTransition):
        invoice_mark_uncollectible(invoice=invoice)


def test_writing_off_moves_the_invoice_to_uncollectible(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    invoice = invoice_mark_uncollectible(invoice=open_invoice(account, "80.00"), reason="customer vanished")
    account.refresh_from_db()
    assert (invoice.status, invoice.amount_due, account.balance) == ("uncollectible", Decimal("80.00"), 0)
    assert Event.objects.filter(type="invoice.marked_uncollectible").count() == 1


def test_drafts_cannot_be_sent_voided_or_written_off(in_tenant_a: Tenant) -> None:
    invoice = draft_invoice(AccountFactory())
    for transition in (invoice_mark_sent, invoice_void, invoice_mark_uncollectible):
        with pytest.raises(InvalidTransition):
            transition(invoice=invoice)


def test_an_invoice_in_another_currency_than_the_account_is_refused(in_tenant_a: Tenant) -> None:
    with pytest.raises(ValidationFailed, match="billed in NGN"):
        invoice_create(account=AccountFactory(), currency="USD", lines=[LineInput("x", unit_price="1")])


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (LineInput("", unit_price="1"), "lines[0].description"),
        (LineInput("x", unit_price="abc"), "lines[0].unit_price"),
        (LineInput("x", unit_price="1", quantity="0"), "lines[0].quantity"),
        (LineInput("x", unit_price="-1"), "lines[0].unit_price"),
        (LineInput("x", unit_price="1e20"), "lines[0].unit_price"),
        (LineInput("x", unit_price="1", discount="0.001"), "lines[0].discount"),
        (LineInput("x", unit_price="1", discount="5"), "lines[0].discount"),
        (LineInput("x", unit_price="1", tax_rate="not-a-uuid"), "lines[0].tax_rate"),
        (LineInput("x", unit_price=1.5), "lines[0].unit_price"),
    ],
)
def test_bad_lines_are_refused_with_the_field_named(in_tenant_a: Tenant, line: LineInput, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        invoice_create(account=AccountFactory(), lines=[line])
    assert refused.value.field == field


def test_a_zero_total_invoice_is_paid_on_finalization(in_tenant_a: Tenant) -> None:
    invoice = open_invoice(AccountFactory(), "0.00")
    assert invoice.status == InvoiceStatus.PAID
