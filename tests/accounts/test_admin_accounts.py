"""The accounts admin: search, filters, balance, linked documents, forms through the services,
actions per role with per-account reporting, the audit trail, bounded queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.models import Account, AccountStatus
from apps.accounts.services import account_close, account_suspend
from apps.events.models import Event
from apps.payments.services import payment_record
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice
from tests.payments.admin_fixtures import changelist_action, messages_of

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:accounts_account_changelist"


def listed(client: Any, **params: str) -> list[str]:
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return [account.name for account in response.context["cl"].result_list]


def account_form(**overrides: str) -> dict[str, str]:
    return {
        "name": "Grace Hopper",
        "external_id": "sub-2002",
        "currency": "USD",
        "email": "grace@example.com",
        "phone": "",
        "locale": "en",
        "timezone": "UTC",
        "tags": "[]",
        "metadata": "{}",
        "_save": "Save",
        **overrides,
    }


def test_accounts_are_found_by_name_email_number_and_external_id(auditor: Any, login_a: Any) -> None:
    ada = AccountFactory(name="Ada Obi", email="ada@example.com", external_id="sub-77")
    AccountFactory(name="Bola Ade", email="bola@example.com", external_id="sub-78")
    client = login_a(auditor)
    assert listed(client, q="obi") == ["Ada Obi"]
    assert listed(client, q="ada@example") == ["Ada Obi"]
    assert listed(client, q=ada.number) == ["Ada Obi"]
    assert listed(client, q="sub-77") == ["Ada Obi"]
    assert listed(client, q="nobody") == []


def test_accounts_filter_by_status_currency_and_balance(auditor: Any, login_a: Any) -> None:
    owing = AccountFactory(name="Owing", currency="NGN")
    open_invoice(owing, "100.00")
    in_credit = AccountFactory(name="In credit", currency="NGN")
    payment_record(account=in_credit, amount="50.00", currency="NGN", method="cash")
    settled = AccountFactory(name="Settled", currency="USD")
    account_suspend(account=settled, reason="test")
    client = login_a(auditor)
    assert listed(client, balance="owing") == ["Owing"]
    assert listed(client, balance="credit") == ["In credit"]
    assert listed(client, balance="settled") == ["Settled"]
    assert listed(client, currency="USD") == ["Settled"]
    assert listed(client, status__exact="suspended") == ["Settled"]
    assert sorted(listed(client, currency="NGN")) == ["In credit", "Owing"]


def test_the_balance_column_shows_owing_and_credit_in_the_currencys_minor_unit(auditor: Any, login_a: Any) -> None:
    owing = AccountFactory(name="Owing", currency="JPY")
    open_invoice(owing, "1500")
    in_credit = AccountFactory(name="In credit", currency="BHD")
    payment_record(account=in_credit, amount="1.250", currency="BHD", method="cash")
    content = login_a(auditor).get(reverse(CHANGELIST)).content.decode()
    assert "¥1,500<" in content
    assert ">-BHD1.250<" in content


def test_the_account_page_lists_the_newest_documents_and_links_to_all_of_them(auditor: Any, login_a: Any) -> None:
    account = AccountFactory(name="Ada Obi")
    invoices = [open_invoice(account, "10.00") for _ in range(12)]
    payment_record(account=account, amount="10.00", currency="NGN", method="cash", reference="RCPT-9")
    response = login_a(auditor).get(reverse("admin:accounts_account_change", args=[account.pk]))
    content = response.content.decode()
    shown = [invoice for invoice in invoices if invoice.number and f">{invoice.number}<" in content]
    assert len(shown) == 10  # bounded: the ten newest
    assert f"{reverse('admin:invoices_invoice_changelist')}?account={account.pk}" in content
    assert f"{reverse('admin:payments_payment_changelist')}?account={account.pk}" in content
    assert "RCPT-9" in content
    assert reverse("account-statement-document", args=[account.pk]) in content


def test_the_account_page_runs_the_same_queries_with_10_or_60_invoices(auditor: Any, login_a: Any) -> None:
    client = login_a(auditor)
    counts = []
    for invoices in (10, 60):
        account = AccountFactory()
        for _ in range(invoices):
            open_invoice(account, "10.00")
        payment_record(account=account, amount="25.00", currency="NGN", method="cash")
        url = reverse("admin:accounts_account_change", args=[account.pk])
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[0] <= 24  # django-tenants sets the search path before about half of them


def test_a_clerk_opens_an_account_through_the_service(clerk: Any, login_a: Any) -> None:
    response = login_a(clerk).post(reverse("admin:accounts_account_add"), account_form(), follow=True)
    assert response.status_code == 200
    account = Account.objects.get(external_id="sub-2002")
    assert account.number.startswith("ACC-")
    assert Event.objects.filter(type="account.created", subject=str(account.pk)).count() == 1
    assert account.history.latest().history_user == clerk


def test_a_refused_account_shows_the_services_message_on_the_field(clerk: Any, login_a: Any) -> None:
    client = login_a(clerk)
    response = client.post(reverse("admin:accounts_account_add"), account_form(phone="12345"))
    assert response.status_code == 200
    assert "is not an E.164 phone number" in str(response.context["adminform"].form.errors["phone"])
    response = client.post(reverse("admin:accounts_account_add"), account_form(currency="XXY"))
    assert response.status_code == 200
    assert "unknown currency" in str(response.context["adminform"].form.errors["currency"])
    assert not Account.objects.filter(external_id="sub-2002").exists()


def test_editing_an_account_goes_through_the_service_and_keeps_its_currency(manager: Any, login_a: Any) -> None:
    account = AccountFactory(name="Ada Obi", currency="NGN", external_id="sub-5")
    url = reverse("admin:accounts_account_change", args=[account.pk])
    form = account_form(
        name="Ada O. Obi",
        external_id="sub-5",
        email="new@example.com",
        phone="+2348012345678",
        notify_by_email="on",
        notify_by_sms="on",
        notify_by_push="on",
    )
    form.pop("currency")
    response = login_a(manager).post(url, form, follow=True)
    assert response.status_code == 200
    account.refresh_from_db()
    assert (account.name, account.email, account.currency) == ("Ada O. Obi", "new@example.com", "NGN")
    updated = Event.objects.get(type="account.updated", subject=str(account.pk))
    assert updated.data["changed"] == ["email", "name"]


def test_the_account_history_shows_who_changed_what(manager: Any, login_a: Any) -> None:
    account = AccountFactory(name="Ada Obi")
    client = login_a(manager)
    changelist_action(client, "accounts.account", "suspend_accounts", [account])
    content = client.get(reverse("admin:accounts_account_history", args=[account.pk])).content.decode()
    assert "<strong>Status:</strong>" in content
    assert "active\n" in content and "&nbsp;&rarr;&nbsp;&nbsp;suspended" in content
    assert ">manager</a>" in content


def test_a_manager_suspends_and_reactivates_accounts_with_a_message_for_each(manager: Any, login_a: Any) -> None:
    active = AccountFactory(name="Active one")
    closed = AccountFactory(name="Closed one")
    account_close(account=closed)
    client = login_a(manager)
    response = changelist_action(client, "accounts.account", "suspend_accounts", [active, closed])
    active.refresh_from_db()
    assert active.status == AccountStatus.SUSPENDED
    assert sorted(messages_of(response)) == sorted(
        [
            f"{active}: suspended",
            f"{closed}: not suspended: a closed account cannot be suspended",
            "1 suspended, 1 refused.",
        ]
    )
    response = changelist_action(client, "accounts.account", "reactivate_accounts", [active])
    active.refresh_from_db()
    assert active.status == AccountStatus.ACTIVE
    assert messages_of(response) == [f"{active}: reactivated"]


@pytest.mark.parametrize("action", ["suspend_accounts", "reactivate_accounts", "close_accounts"])
def test_clerks_and_auditors_cannot_run_manager_actions(action: str, clerk: Any, auditor: Any, login_a: Any) -> None:
    account = AccountFactory()
    for user in (clerk, auditor):
        response = changelist_action(login_a(user), "accounts.account", action, [account])
        assert response.status_code == 200
        assert messages_of(response) in ([], ["No action selected."])
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_a_manager_closes_only_accounts_that_owe_nothing(manager: Any, login_a: Any) -> None:
    quiet = AccountFactory(name="Quiet")
    owing = AccountFactory(name="Owing")
    open_invoice(owing, "100.00")
    response = changelist_action(login_a(manager), "accounts.account", "close_accounts", [quiet, owing])
    quiet.refresh_from_db()
    owing.refresh_from_db()
    assert (quiet.status, owing.status) == ("closed", "active")
    assert f"{owing}: not closed: the account still owes 100.00 NGN" in messages_of(response)


def test_accounts_cannot_be_deleted_in_the_admin(manager: Any, login_a: Any) -> None:
    account = AccountFactory()
    response = login_a(manager).get(reverse("admin:accounts_account_delete", args=[account.pk]))
    assert response.status_code == 403
    assert Account.objects.filter(pk=account.pk).exists()
    assert account.balance == Decimal(0)
