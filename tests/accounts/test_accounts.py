"""Accounts: numbering, validation, lifecycle and its events."""

from __future__ import annotations

import pytest

from apps.accounts.models import AccountStatus
from apps.accounts.services import account_close, account_create, account_reactivate, account_suspend, account_update
from apps.core.errors import InvalidTransition, ValidationFailed
from apps.events.models import Event
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice

pytestmark = pytest.mark.django_db


def test_accounts_are_numbered_per_tenant_in_sequence(in_tenant_a: Tenant) -> None:
    first = AccountFactory()
    second = AccountFactory()
    assert (first.number, second.number) == ("ACC-000001", "ACC-000002")


def test_creating_an_account_normalises_the_phone_and_publishes_account_created(in_tenant_a: Tenant) -> None:
    account = account_create(name="Ada Obi", currency="ngn", phone="+234 801 234 5678", external_id="sub-1001")
    assert (account.currency, account.phone, account.balance) == ("NGN", "+2348012345678", 0)
    event = Event.objects.get(type="account.created")
    assert event.data == {
        "account": str(account.id),
        "number": account.number,
        "external_id": "sub-1001",
        "status": "active",
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"phone": "08012345678"}, "phone"),
        ({"phone": "+1 555"}, "phone"),
        ({"currency": "XYZ"}, "currency"),
        ({"locale": "de"}, "locale"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_account_details_are_refused_with_the_field_named(in_tenant_a: Tenant, fields: dict, field: str) -> None:
    data = {"name": "Ada", "currency": "NGN", **fields}
    with pytest.raises(ValidationFailed) as refused:
        account_create(**data)
    assert refused.value.field == field


def test_external_ids_are_unique_within_a_tenant(in_tenant_a: Tenant) -> None:
    account_create(name="Ada", currency="NGN", external_id="sub-1")
    with pytest.raises(ValidationFailed, match="already exists"):
        account_create(name="Bola", currency="NGN", external_id="sub-1")


def test_suspending_and_reactivating_publish_their_events_once(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    account_suspend(account=account, reason="overdue")
    account_suspend(account=account, reason="overdue again")
    account = account_reactivate(account=account)
    assert account.status == AccountStatus.ACTIVE
    types = list(Event.objects.filter(subject=str(account.id)).values_list("type", flat=True))
    assert types == ["account.created", "account.suspended", "account.reactivated"]


def test_an_account_that_owes_money_cannot_be_closed(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    open_invoice(account, "100.00")
    with pytest.raises(InvalidTransition, match=r"still owes 100\.00"):
        account_close(account=account)


def test_a_closed_account_stays_closed(in_tenant_a: Tenant) -> None:
    account = account_close(account=AccountFactory())
    assert account.status == AccountStatus.CLOSED
    with pytest.raises(InvalidTransition):
        account_suspend(account=account)


def test_the_currency_of_an_account_never_changes(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    with pytest.raises(ValidationFailed, match="currency cannot change"):
        account_update(account=account, currency="USD")
    updated = account_update(account=account, name="New Name", email="new@example.com")
    assert (updated.name, updated.email) == ("New Name", "new@example.com")
    assert Event.objects.filter(type="account.updated").get().data["changed"] == ["email", "name"]
