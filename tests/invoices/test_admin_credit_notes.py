"""Credit notes in the admin: issued by a manager from an invoice through credit_note_issue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from apps.invoices.models import CreditNote
from apps.payments.services import payment_record
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import draft_invoice, open_invoice
from tests.payments.admin_fixtures import messages_of

pytestmark = pytest.mark.django_db

ISSUE = "admin:invoices_creditnote_add"


def test_the_invoice_page_offers_a_credit_note_to_managers_only(clerk: Any, manager: Any, login_a: Any) -> None:
    invoice = open_invoice(AccountFactory(), "100.00")
    url = reverse("admin:invoices_invoice_change", args=[invoice.pk])
    issue_link = f"{reverse(ISSUE)}?invoice={invoice.pk}"
    assert issue_link in login_a(manager).get(url).content.decode()
    assert issue_link not in login_a(clerk).get(url).content.decode()


def test_a_manager_credits_a_paid_invoice_and_the_excess_becomes_account_credit(manager: Any, login_a: Any) -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "100.00")
    payment_record(account=account, amount="100.00", currency="NGN", method="cash")
    response = login_a(manager).post(
        reverse(ISSUE), {"invoice": str(invoice.pk), "amount": "40.00", "reason": "outage"}, follow=True
    )
    note = CreditNote.objects.get(invoice=invoice)
    assert response.redirect_chain[-1][0] == reverse("admin:invoices_creditnote_change", args=[note.pk])
    assert messages_of(response) == [
        f"Credit note {note.number} of NGN40.00 issued on invoice {invoice.number} (NGN0.00 applied to it)."
    ]
    account.refresh_from_db()
    assert (note.created_by, account.credit_balance, account.balance) == (
        "manager",
        Decimal("40.00"),
        Decimal("-40.00"),
    )


def test_a_credit_the_service_refuses_is_shown_on_the_form(manager: Any, login_a: Any) -> None:
    invoice = open_invoice(AccountFactory(), "100.00")
    client = login_a(manager)
    too_much = client.post(reverse(ISSUE), {"invoice": str(invoice.pk), "amount": "150.00", "reason": "x"})
    assert too_much.status_code == 200
    assert too_much.context["form"].errors == {
        "amount": [f"at most 100.00 NGN of invoice {invoice.number} can still be credited"]
    }
    too_precise = client.post(reverse(ISSUE), {"invoice": str(invoice.pk), "amount": "1.005", "reason": "x"})
    assert too_precise.context["form"].errors == {"amount": ["NGN amounts have at most 2 decimal places"]}
    draft = draft_invoice(invoice.account, "10.00")
    on_draft = client.post(reverse(ISSUE), {"invoice": str(draft.pk), "amount": "1.00", "reason": "x"})
    assert "invoice" in on_draft.context["form"].errors
    assert not CreditNote.objects.exists()


def test_clerks_and_auditors_cannot_issue_credit_notes(clerk: Any, auditor: Any, login_a: Any) -> None:
    invoice = open_invoice(AccountFactory(), "100.00")
    for user in (clerk, auditor):
        response = login_a(user).post(reverse(ISSUE), {"invoice": str(invoice.pk), "amount": "1.00", "reason": "x"})
        assert response.status_code == 403
    assert not CreditNote.objects.exists()


def test_credit_notes_are_listed_by_account_and_found_by_number(auditor: Any, login_a: Any) -> None:
    from apps.invoices.credit_notes import credit_note_issue

    ada, bola = AccountFactory(name="Ada Obi"), AccountFactory(name="Bola Ade")
    ada_note = credit_note_issue(invoice=open_invoice(ada, "10.00"), amount="1.00", reason="a")
    bola_note = credit_note_issue(invoice=open_invoice(bola, "10.00"), amount="2.00", reason="b")
    client = login_a(auditor)
    changelist = reverse("admin:invoices_creditnote_changelist")
    by_account = client.get(changelist, {"account": str(ada.pk)}).context["cl"].result_list
    assert [note.number for note in by_account] == [ada_note.number]
    by_number = client.get(changelist, {"q": bola_note.number}).context["cl"].result_list
    assert [note.number for note in by_number] == [bola_note.number]
    assert client.get(reverse("admin:invoices_creditnote_change", args=[ada_note.pk])).status_code == 200


def test_the_invoice_picker_offers_only_creditable_invoices_of_the_account_searched(manager: Any, login_a: Any) -> None:
    account = AccountFactory(name="Ada Obi")
    creditable = open_invoice(account, "10.00")
    draft_invoice(account, "5.00")
    open_invoice(AccountFactory(name="Bola Ade"), "10.00")
    params = {"app_label": "invoices", "model_name": "creditnote", "field_name": "invoice", "term": "ada"}
    response = login_a(manager).get(reverse("admin:autocomplete"), params)
    assert response.status_code == 200
    assert [result["id"] for result in response.json()["results"]] == [str(creditable.pk)]
