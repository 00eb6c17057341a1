"""The payments admin: record a payment after an allocation preview, refund, failed payments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from apps.payments.models import Payment, Refund
from apps.payments.services import payment_record, payment_record_failed
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice
from tests.payments.admin_fixtures import changelist_action, messages_of

pytestmark = pytest.mark.django_db

RECORD = "admin:payments_payment_add"


def payment_form(account: Any, amount: str, **extra: str) -> dict[str, str]:
    return {"account": str(account.pk), "amount": amount, "method": "bank_transfer", "reference": "TRF-1", **extra}


def test_the_preview_pays_the_oldest_due_first_and_shows_the_credit_left(clerk: Any, login_a: Any) -> None:
    account = AccountFactory()
    newer = open_invoice(account, "50.00", due_date=dt.date(2026, 2, 1))
    older = open_invoice(account, "40.00", due_date=dt.date(2026, 1, 1))
    response = login_a(clerk).post(reverse(RECORD), {**payment_form(account, "100.00"), "_preview": "1"})
    preview = response.context["preview"]
    assert [(line.invoice.number, line.amount, line.amount_due_after) for line in preview.lines] == [
        (older.number, Decimal("40.00"), Decimal("0.00")),
        (newer.number, Decimal("50.00"), Decimal("0.00")),
    ]
    assert (preview.allocated, preview.credit_left, preview.balance_after) == (
        Decimal("90.00"),
        Decimal("10.00"),
        Decimal("-10.00"),
    )
    content = response.content.decode()
    assert 'id="preview-credit">NGN10.00<' in content
    assert 'name="_confirm"' in content
    assert not Payment.objects.exists()  # a preview records nothing


def test_confirming_records_what_was_previewed(clerk: Any, login_a: Any) -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "60.00")
    client = login_a(clerk)
    preview = client.post(reverse(RECORD), {**payment_form(account, "100.00"), "_preview": "1"})
    token = preview.context["form"].data["preview_token"]
    response = client.post(
        reverse(RECORD), {**payment_form(account, "100.00"), "preview_token": token, "_confirm": "1"}, follow=True
    )
    payment = Payment.objects.get()
    assert response.redirect_chain[-1][0] == reverse("admin:payments_payment_change", args=[payment.pk])
    assert messages_of(response) == [
        f"Payment of NGN100.00 recorded for {account}: {invoice.number} NGN60.00; NGN40.00 kept as credit."
    ]
    assert (payment.amount_allocated, payment.created_by) == (Decimal("60.00"), "clerk")


def test_a_confirmation_after_the_invoices_changed_shows_a_new_preview_instead(clerk: Any, login_a: Any) -> None:
    account = AccountFactory()
    open_invoice(account, "60.00")
    client = login_a(clerk)
    preview = client.post(reverse(RECORD), {**payment_form(account, "100.00"), "_preview": "1"})
    token = preview.context["form"].data["preview_token"]
    payment_record(account=account, amount="20.00", currency="NGN", method="cash")  # meanwhile, at the counter
    response = client.post(
        reverse(RECORD), {**payment_form(account, "100.00"), "preview_token": token, "_confirm": "1"}
    )
    assert response.status_code == 200
    assert messages_of(response) == [
        "The payment or the account's invoices changed since the preview: check the new preview."
    ]
    assert [line.amount for line in response.context["preview"].lines] == [Decimal("40.00")]
    assert Payment.objects.count() == 1


def test_explicit_allocations_pay_the_invoices_named(clerk: Any, login_a: Any) -> None:
    account = AccountFactory()
    older = open_invoice(account, "50.00", due_date=dt.date(2026, 1, 1))
    newer = open_invoice(account, "50.00", due_date=dt.date(2026, 2, 1))
    client = login_a(clerk)
    form = payment_form(account, "70.00", allocations=f"{newer.number} 50.00\n{str(older.number).lower()}: 20")
    preview = client.post(reverse(RECORD), {**form, "_preview": "1"}).context["preview"]
    assert preview.explicit
    assert [(line.invoice.pk, line.amount) for line in preview.lines] == [(newer.pk, Decimal("50.00")), (older.pk, 20)]
    token = client.post(reverse(RECORD), {**form, "_preview": "1"}).context["form"].data["preview_token"]
    client.post(reverse(RECORD), {**form, "preview_token": token, "_confirm": "1"})
    newer.refresh_from_db()
    older.refresh_from_db()
    assert (newer.status, older.amount_due) == ("paid", Decimal("30.00"))


def test_wrong_allocations_are_form_errors(clerk: Any, login_a: Any) -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "50.00")
    other = open_invoice(AccountFactory(), "50.00")
    client = login_a(clerk)
    cases = {
        f"{invoice.number} 60.00": f"more than the 50.00 NGN due on {invoice.number}",
        f"{other.number} 10.00": f"no invoice {other.number} on account {account.number}",
        f"{invoice.number}": "write the invoice number, then the amount",
        f"{invoice.number} 1.001": "NGN amounts have at most 2 decimal places",
    }
    for allocations, error in cases.items():
        response = client.post(
            reverse(RECORD), {**payment_form(account, "50.00", allocations=allocations), "_preview": "1"}
        )
        assert response.status_code == 200
        assert error in str(response.context["form"].errors["allocations"]), allocations
        assert response.context["preview"] is None
    assert not Payment.objects.exists()


def test_a_payment_in_the_future_or_too_precise_is_refused(clerk: Any, login_a: Any) -> None:
    account = AccountFactory(currency="JPY")
    client = login_a(clerk)
    response = client.post(reverse(RECORD), {**payment_form(account, "10.5"), "_preview": "1"})
    assert response.context["form"].errors["amount"] == ["JPY amounts have at most 0 decimal places"]
    future = {"received_at_0": "2999-01-01", "received_at_1": "10:00:00"}
    response = client.post(reverse(RECORD), {**payment_form(account, "10"), **future, "_preview": "1"})
    assert response.context["form"].errors["received_at"] == ["a payment cannot be received in the future"]


def test_auditors_cannot_record_payments(auditor: Any, login_a: Any) -> None:
    account = AccountFactory()
    response = login_a(auditor).post(reverse(RECORD), {**payment_form(account, "10.00"), "_confirm": "1"})
    assert response.status_code == 403
    assert not Payment.objects.exists()


def test_a_manager_refunds_part_of_a_payment_and_the_invoice_owes_it_again(manager: Any, login_a: Any) -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "100.00")
    payment = payment_record(account=account, amount="100.00", currency="NGN", method="card")
    client = login_a(manager)
    page = client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert reverse("admin:payments_payment_refund", args=[payment.pk]) in page.content.decode()
    response = client.post(
        reverse("admin:payments_payment_refund", args=[payment.pk]),
        {"amount": "30.00", "reason": "overcharged"},
        follow=True,
    )
    assert messages_of(response) == [
        "Refunded NGN30.00 of the payment (NGN0.00 from credit, the rest reopened on its invoices)."
    ]
    invoice.refresh_from_db()
    refund = Refund.objects.get()
    assert (invoice.status, invoice.amount_due, refund.created_by) == ("open", Decimal("30.00"), "manager")
    too_much = client.post(
        reverse("admin:payments_payment_refund", args=[payment.pk]), {"amount": "80.00", "reason": "x"}
    )
    assert too_much.context["form"].errors == {"amount": ["at most 70.00 NGN of this payment can be refunded"]}


def test_the_refund_action_opens_the_form_for_exactly_one_payment(manager: Any, clerk: Any, login_a: Any) -> None:
    account = AccountFactory()
    first = payment_record(account=account, amount="10.00", currency="NGN", method="cash")
    second = payment_record(account=account, amount="20.00", currency="NGN", method="cash")
    client = login_a(manager)
    response = changelist_action(client, "payments.payment", "refund_payment", [first, second])
    assert messages_of(response) == ["Select exactly one payment to refund."]
    response = changelist_action(client, "payments.payment", "refund_payment", [first])
    assert response.redirect_chain[-1][0] == reverse("admin:payments_payment_refund", args=[first.pk])
    refused = changelist_action(login_a(clerk), "payments.payment", "refund_payment", [first])
    assert messages_of(refused) in ([], ["No action selected."])
    assert login_a(clerk).post(reverse("admin:payments_payment_refund", args=[first.pk]), {}).status_code == 403


def test_failed_payments_are_listed_with_their_reason(auditor: Any, login_a: Any) -> None:
    account = AccountFactory()
    payment_record_failed(
        account=account,
        amount="25.00",
        currency="NGN",
        method="card",
        failure_code="card_declined",
        failure_message="Your card was declined.",
    )
    payment_record(account=account, amount="5.00", currency="NGN", method="cash")
    client = login_a(auditor)
    response = client.get(reverse("admin:payments_payment_changelist"), {"status__exact": "failed"})
    assert [payment.failure_code for payment in response.context["cl"].result_list] == ["card_declined"]
    content = response.content.decode()
    assert "<strong>card_declined</strong> Your card was declined." in content
    assert "billing-badge-failed" in content


def test_payments_are_found_by_reference_or_account(auditor: Any, login_a: Any) -> None:
    ada = AccountFactory(name="Ada Obi")
    bola = AccountFactory(name="Bola Ade")
    payment_record(account=ada, amount="5.00", currency="NGN", method="cash", reference="RCPT-1")
    payment_record(account=bola, amount="6.00", currency="NGN", method="cash", reference="RCPT-2")
    client = login_a(auditor)
    changelist = reverse("admin:payments_payment_changelist")

    def found(**params: str) -> list[str]:
        return [payment.reference for payment in client.get(changelist, params).context["cl"].result_list]

    assert found(q="RCPT-2") == ["RCPT-2"]
    assert found(q="ada") == ["RCPT-1"]
    assert found(account=str(bola.pk)) == ["RCPT-2"]


def test_the_payment_history_shows_the_refund_and_who_made_it(manager: Any, login_a: Any) -> None:
    account = AccountFactory()
    open_invoice(account, "100.00")
    payment = payment_record(account=account, amount="100.00", currency="NGN", method="card")
    client = login_a(manager)
    client.post(reverse("admin:payments_payment_refund", args=[payment.pk]), {"amount": "30.00", "reason": "x"})
    content = client.get(reverse("admin:payments_payment_history", args=[payment.pk])).content.decode()
    assert ">manager</a>" in content
    assert "<strong>Amount refunded:</strong>" in content
    # history is read-only: no revert
    record = payment.history.latest()
    url = reverse("admin:payments_payment_simple_history", args=[payment.pk, record.history_id])
    assert client.get(url).status_code == 200
    assert client.post(url, {}).status_code == 403


def test_the_account_picker_leaves_out_closed_accounts(clerk: Any, login_a: Any) -> None:
    from apps.accounts.services import account_close

    open_account = AccountFactory(name="Ada Obi")
    account_close(account=AccountFactory(name="Ada Closed"))
    params = {"app_label": "payments", "model_name": "payment", "field_name": "account", "term": "ada"}
    response = login_a(clerk).get(reverse("admin:autocomplete"), params)
    assert [result["id"] for result in response.json()["results"]] == [str(open_account.pk)]
