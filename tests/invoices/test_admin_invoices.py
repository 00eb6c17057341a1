"""The invoices admin: list, filters and search; drafts saved through the services; finalized
invoices read-only; actions per role, each reporting per invoice; exports; bounded queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.models import Account
from apps.core.admin_support import MAX_BULK_OBJECTS, EstimatedCountPaginator
from apps.core.tenancy import tenant_today
from apps.invoices.models import Invoice, InvoiceStatus, TaxRate
from apps.payments.services import payment_record
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import draft_invoice, open_invoice
from tests.payments.admin_fixtures import changelist_action, inline_management, messages_of

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:invoices_invoice_changelist"


def listed(client: Any, **params: str) -> list[str]:
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200, response
    return [str(invoice) for invoice in response.context["cl"].result_list]


def days_ago(days: int) -> dt.date:
    return tenant_today() - dt.timedelta(days=days)


def bulk_open_invoices(accounts: list[Account], count: int) -> None:
    """Open invoices written straight to the table (as a benchmark seeds them): only the lists
    read them, so the accounts' running balances are left alone."""
    today = tenant_today()
    Invoice.objects.bulk_create(
        Invoice(
            account=accounts[index % len(accounts)],
            number=f"BULK-{uuid.uuid4().hex[:12]}",
            status=InvoiceStatus.OPEN,
            currency=accounts[index % len(accounts)].currency,
            issue_date=today,
            due_date=today - dt.timedelta(days=index % 120),
            subtotal=Decimal("10.00"),
            total=Decimal("10.00"),
            amount_due=Decimal("10.00"),
        )
        for index in range(count)
    )


# --- the list ---------------------------------------------------------------------------------
def test_the_list_shows_status_amounts_and_days_overdue(auditor: Any, login_a: Any) -> None:
    account = AccountFactory(name="Ada Obi")
    late = open_invoice(account, "25000.00", due_date=days_ago(12))
    content = login_a(auditor).get(reverse(CHANGELIST)).content.decode()
    assert f">{late.number}<" in content
    assert "billing-badge-open" in content
    assert ">NGN25,000.00<" in content
    assert "billing-badge-overdue" in content and ">12 d<" in content
    assert "Ada Obi (ACC-" in content


def test_invoices_filter_by_overdue_bucket_in_the_tenants_today(auditor: Any, login_a: Any) -> None:
    account = AccountFactory()
    by_bucket = {
        "current": open_invoice(account, "1.00", due_date=days_ago(0)),
        "1_30": open_invoice(account, "2.00", due_date=days_ago(30)),
        "31_60": open_invoice(account, "3.00", due_date=days_ago(31)),
        "61_90": open_invoice(account, "4.00", due_date=days_ago(90)),
        "90_plus": open_invoice(account, "5.00", due_date=days_ago(91)),
    }
    paid_late = open_invoice(account, "6.00", due_date=days_ago(100))
    payment_record(account=account, amount="6.00", currency="NGN", method="cash", allocations=None)
    paid_late.refresh_from_db()
    client = login_a(auditor)
    for bucket, invoice in by_bucket.items():
        assert listed(client, overdue=bucket) == [invoice.number], bucket


def test_invoices_filter_by_due_date_range_currency_status_and_account(auditor: Any, login_a: Any) -> None:
    naira = AccountFactory(currency="NGN")
    yen = AccountFactory(currency="JPY")
    early = open_invoice(naira, "1.00", due_date=dt.date(2026, 1, 10))
    late = open_invoice(naira, "1.00", due_date=dt.date(2026, 3, 10))
    japanese = open_invoice(yen, "100", due_date=dt.date(2026, 2, 10))
    draft = draft_invoice(naira, "1.00")
    client = login_a(auditor)
    assert set(listed(client, due_date__gte="2026-02-01")) == {late.number, japanese.number}
    assert set(listed(client, due_date__gte="2026-01-01", due_date__lte="2026-02-28")) == {
        japanese.number,
        early.number,
    }
    assert listed(client, due_date__gte="", due_date__lte="2026-01-31") == [early.number]
    assert listed(client, currency="JPY") == [japanese.number]
    assert listed(client, status__exact="draft") == [str(draft)]
    assert listed(client, account=str(yen.pk)) == [japanese.number]


def test_invoices_are_found_by_number_or_account(auditor: Any, login_a: Any) -> None:
    ada = AccountFactory(name="Ada Obi")
    bola = AccountFactory(name="Bola Ade")
    first = open_invoice(ada, "1.00")
    second = open_invoice(bola, "1.00")
    client = login_a(auditor)
    assert listed(client, q=str(first.number)) == [first.number]
    assert listed(client, q=str(first.number).lower()) == [first.number]
    assert listed(client, q="bola") == [second.number]
    assert listed(client, q=bola.number) == [second.number]
    assert listed(client, q="nothing-like-it") == []


def test_the_list_runs_the_same_queries_for_50_or_500_invoices(
    auditor: Any, login_a: Any, django_assert_max_num_queries: Any
) -> None:
    accounts = [AccountFactory() for _ in range(10)]
    client = login_a(auditor)
    pages = [{}, {"overdue": "1_30"}, {"currency": "NGN", "status__exact": "open"}, {"q": accounts[3].name}]

    def query_counts() -> list[int]:
        counts = []
        for params in pages:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse(CHANGELIST), params).status_code == 200
            counts.append(len(queries))
        return counts

    bulk_open_invoices(accounts, 50)
    with_50 = query_counts()
    bulk_open_invoices(accounts, 450)
    with_500 = query_counts()
    assert with_50 == with_500
    with django_assert_max_num_queries(max(with_500)):
        client.get(reverse(CHANGELIST))


def test_the_paginator_estimates_big_tables_and_stops_counting_filtered_ones(in_tenant_a: Any) -> None:
    accounts = [AccountFactory()]
    bulk_open_invoices(accounts, 30)

    class SmallLimit(EstimatedCountPaginator):
        exact_limit = 10

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE invoices_invoice")
    unfiltered = SmallLimit(Invoice.objects.order_by("-created_at", "id"), 5)
    assert unfiltered.count >= 30 and unfiltered.is_estimate
    filtered = SmallLimit(Invoice.objects.filter(status="open").order_by("-created_at", "id"), 5)
    assert (filtered.count, filtered.is_capped) == (10, True)
    few = SmallLimit(Invoice.objects.filter(status="draft"), 5)
    assert (few.count, few.is_estimate, few.is_capped) == (0, False, False)


# --- drafts through the services ----------------------------------------------------------------
def draft_form(invoice: Invoice, lines: list[tuple[str, str, str, str]], **extra: str) -> dict[str, str]:
    existing = list(invoice.lines.order_by("position"))
    data = {"due_date": "", "memo": "", **inline_management("lines", len(lines) + 1, len(existing)), "_save": "Save"}
    for index, (description, quantity, unit_price, discount) in enumerate(lines):
        data |= {
            f"lines-{index}-description": description,
            f"lines-{index}-quantity": quantity,
            f"lines-{index}-unit_price": unit_price,
            f"lines-{index}-discount": discount,
            f"lines-{index}-tax_rate": "",
            f"lines-{index}-invoice": str(invoice.pk),
        }
        if index < len(existing):
            data[f"lines-{index}-id"] = str(existing[index].pk)
    # The blank extra line as a browser posts it: model defaults and the default tax rate.
    blank = len(lines)
    default_rate = TaxRate.objects.get(is_default=True)
    data |= {
        f"lines-{blank}-quantity": "1",
        f"lines-{blank}-discount": "0",
        f"lines-{blank}-tax_rate": str(default_rate.pk),
    }
    return data | extra


def test_a_clerk_edits_a_draft_and_the_service_recomputes_its_totals(clerk: Any, login_a: Any) -> None:
    invoice = draft_invoice(AccountFactory(), "100.00")
    url = reverse("admin:invoices_invoice_change", args=[invoice.pk])
    form = draft_form(invoice, [("Fibre", "2", "100.00", "10.00")], memo="two months", due_date="2026-12-01")
    response = login_a(clerk).post(url, form, follow=True)
    assert response.status_code == 200
    invoice.refresh_from_db()
    assert (invoice.total, invoice.memo, invoice.due_date) == (Decimal("190.00"), "two months", dt.date(2026, 12, 1))
    assert [(line.description, line.total) for line in invoice.lines.all()] == [("Fibre", Decimal("190.00"))]


def test_a_draft_the_service_refuses_shows_the_error_and_saves_nothing(clerk: Any, login_a: Any) -> None:
    invoice = draft_invoice(AccountFactory(), "100.00")
    url = reverse("admin:invoices_invoice_change", args=[invoice.pk])
    response = login_a(clerk).post(url, draft_form(invoice, [("Fibre", "1", "10.00", "50.00")]))
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert errors == ["Line 1 (discount): the discount is larger than the line amount"]
    invoice.refresh_from_db()
    assert invoice.total == Decimal("100.00")


def test_finalized_invoices_are_read_only(manager: Any, login_a: Any) -> None:
    invoice = open_invoice(AccountFactory(), "100.00")
    client = login_a(manager)
    url = reverse("admin:invoices_invoice_change", args=[invoice.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert b'name="_save"' not in page.content
    assert client.post(url, draft_form(invoice, [("Changed", "1", "1.00", "0")])).status_code == 403
    assert client.get(reverse("admin:invoices_invoice_delete", args=[invoice.pk])).status_code == 403
    invoice.refresh_from_db()
    assert invoice.total == Decimal("100.00")


def test_a_draft_is_deleted_through_the_service(clerk: Any, login_a: Any) -> None:
    invoice = draft_invoice(AccountFactory(), "100.00")
    response = login_a(clerk).post(
        reverse("admin:invoices_invoice_delete", args=[invoice.pk]), {"post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert not Invoice.objects.filter(pk=invoice.pk).exists()


def test_auditors_cannot_add_or_edit_invoices(auditor: Any, login_a: Any) -> None:
    account = AccountFactory()
    invoice = draft_invoice(account, "100.00")
    client = login_a(auditor)
    assert (
        client.post(reverse("admin:invoices_invoice_change", args=[invoice.pk]), draft_form(invoice, [])).status_code
        == 403
    )
    add = {"account": str(account.pk), **inline_management("lines", 0)}
    assert client.post(reverse("admin:invoices_invoice_add"), add).status_code == 403
    assert Invoice.objects.filter(account=account).count() == 1


# --- actions --------------------------------------------------------------------------------------
ACTION_ROLES = {
    "finalize_invoices": {"clerk", "manager"},
    "send_invoices": {"clerk", "manager"},
    "void_invoices": {"manager"},
    "write_off_invoices": {"manager"},
}
EXPECTED_STATUS = {
    "finalize_invoices": ("draft", "open"),
    "send_invoices": ("open", "open"),
    "void_invoices": ("open", "void"),
    "write_off_invoices": ("open", "uncollectible"),
}


@pytest.mark.parametrize("action", list(ACTION_ROLES))
@pytest.mark.parametrize("role", ["clerk", "manager", "auditor"])
def test_each_action_runs_for_its_roles_only(action: str, role: str, request: Any, login_a: Any) -> None:
    user = request.getfixturevalue(role)
    before, after = EXPECTED_STATUS[action]
    account = AccountFactory()
    invoice = draft_invoice(account, "100.00") if before == "draft" else open_invoice(account, "100.00")
    response = changelist_action(login_a(user), "invoices.invoice", action, [invoice], confirm="yes", reason="test")
    invoice.refresh_from_db()
    if role in ACTION_ROLES[action]:
        assert invoice.status == after
        assert len(messages_of(response)) == 1 and "not " not in messages_of(response)[0]
        if action == "send_invoices":
            assert invoice.sent_at is not None
    else:
        assert (invoice.status, invoice.sent_at) == (before, None)
        assert messages_of(response) == ["No action selected."]


def test_finalizing_reports_success_and_failure_per_invoice(clerk: Any, login_a: Any) -> None:
    account = AccountFactory()
    good = draft_invoice(account, "100.00")
    empty = draft_invoice(account)
    empty.lines.all().delete()
    already = open_invoice(account, "50.00")
    response = changelist_action(login_a(clerk), "invoices.invoice", "finalize_invoices", [good, empty, already])
    good.refresh_from_db()
    empty.refresh_from_db()
    assert (good.status, empty.status) == ("open", "draft")
    assert sorted(messages_of(response)) == sorted(
        [
            f"Draft {str(good.pk)[:8]}: finalized as {good.number}",
            f"Draft {str(empty.pk)[:8]}: not finalized: an invoice needs at least one line before it is finalized",
            f"{already.number}: not finalized: invoice {already.number} is already open",
            "1 finalized, 2 refused.",
        ]
    )


def test_voiding_asks_for_a_reason_then_reports_each_invoice(manager: Any, login_a: Any) -> None:
    account = AccountFactory()
    partly_paid = open_invoice(account, "100.00", due_date=dt.date(2026, 1, 1))
    untouched = open_invoice(account, "100.00", due_date=dt.date(2026, 2, 1))
    payment_record(account=account, amount="30.00", currency="NGN", method="cash")  # oldest due first
    draft = draft_invoice(account, "5.00")
    selected = [partly_paid, untouched, draft]
    client = login_a(manager)
    page = client.post(
        reverse(CHANGELIST),
        {"action": "void_invoices", "index": "0", "_selected_action": [str(i.pk) for i in selected]},
    )
    assert page.status_code == 200
    assert page.template_name == "admin/invoices/invoice/action_reason.html"
    untouched.refresh_from_db()
    assert untouched.status == "open"  # nothing happens before the reason is confirmed
    response = changelist_action(
        client, "invoices.invoice", "void_invoices", selected, confirm="yes", reason="issued twice"
    )
    for invoice in selected:
        invoice.refresh_from_db()
    assert (partly_paid.status, untouched.status, draft.status) == ("open", "void", "draft")
    assert untouched.status_reason == "issued twice"
    assert sorted(messages_of(response)) == sorted(
        [
            f"{partly_paid.number}: not voided: invoice {partly_paid.number} has 30.00 NGN paid or credited; "
            "refund or credit it instead of voiding",
            f"{untouched.number}: voided",
            f"{draft}: not voided: invoice {draft} is draft; only open invoices can be voided",
            "1 voided, 2 refused.",
        ]
    )


def test_writing_off_needs_a_reason(manager: Any, login_a: Any) -> None:
    invoice = open_invoice(AccountFactory(), "100.00")
    response = changelist_action(login_a(manager), "invoices.invoice", "write_off_invoices", [invoice], confirm="yes")
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    invoice.refresh_from_db()
    assert invoice.status == "open"


def test_a_bulk_action_refuses_more_than_the_limit_and_does_nothing(clerk: Any, login_a: Any) -> None:
    account = AccountFactory()
    bulk_open_invoices([account], MAX_BULK_OBJECTS + 1)
    client = login_a(clerk)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "send_invoices", "index": "0", "select_across": "1", "_selected_action": ["x"]},
        follow=True,
    )
    assert messages_of(response) == [
        f"Select at most {MAX_BULK_OBJECTS} objects per action (filter the list first); nothing was done."
    ]
    assert not Invoice.objects.filter(sent_at__isnull=False).exists()


@pytest.mark.parametrize("role", ["clerk", "manager", "auditor"])
def test_every_role_exports_invoices_as_a_streamed_csv(role: str, request: Any, login_a: Any) -> None:
    account = AccountFactory(name="=HYPERLINK(evil)", currency="BHD")
    invoice = open_invoice(account, "1.250", due_date=days_ago(3))
    response = login_a(request.getfixturevalue(role)).post(
        reverse(CHANGELIST), {"action": "export_csv", "index": "0", "_selected_action": [str(invoice.pk)]}
    )
    assert response.status_code == 200
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    row = rows[0]
    assert (row["number"], row["currency"], row["total"], row["amount_due"]) == (
        invoice.number,
        "BHD",
        "1.250",
        "1.250",
    )
    assert (row["days_overdue"], row["account_name"]) == ("3", "'=HYPERLINK(evil)")


@pytest.mark.parametrize("role", ["clerk", "manager", "auditor"])
def test_every_role_downloads_the_pdfs_of_selected_invoices_as_a_zip(role: str, request: Any, login_a: Any) -> None:
    account = AccountFactory(name="Ada Obi")
    first, second = open_invoice(account, "100.00"), open_invoice(account, "50.00")
    client = login_a(request.getfixturevalue(role))
    response = client.post(
        reverse(CHANGELIST),
        {"action": "download_pdfs", "index": "0", "_selected_action": [str(first.pk), str(second.pk)]},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = sorted(archive.namelist())
        assert names == sorted([f"{first.number}.pdf", f"{second.number}.pdf"])
        assert all(archive.read(name).startswith(b"%PDF") for name in names)
    assert sorted(messages_of(client.get(reverse(CHANGELIST)))) == sorted(
        [f"{first.number}: PDF added", f"{second.number}: PDF added"]
    )
