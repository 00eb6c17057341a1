"""The two admin actions on accounts: export (a JSON download of one account) and anonymise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User

from apps.accounts.models import Account
from apps.privacy.models import DataProtectionRecord
from tests.payments.admin_fixtures import changelist_action, messages_of
from tests.privacy.conftest import ADA_EMAIL, Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def privacy_officer(in_tenant_a: Any, make_staff: Any) -> User:
    user = make_staff("priya", "Finance Manager")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["export_personal_data", "anonymise_account", "view_account"])
    )
    return User.objects.get(pk=user.pk)


def test_staff_download_an_accounts_export_and_it_is_audited(
    closed_customer: Customer, privacy_officer: User, login_a: Any
) -> None:
    client = login_a(privacy_officer)
    response = changelist_action(client, "accounts.account", "export_personal_data", [closed_customer.account])
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="{closed_customer.account.number}-export.json"'
    assert json.loads(response.content)["account"]["email"] == ADA_EMAIL
    record = DataProtectionRecord.objects.get(account=closed_customer.account)
    assert (record.kind, record.actor, record.via) == ("export", "priya", "admin")


def test_staff_anonymise_closed_accounts_and_see_which_were_refused(
    closed_customer: Customer, privacy_officer: User, login_a: Any
) -> None:
    from tests.accounts.factories import AccountFactory

    open_account = AccountFactory()
    client = login_a(privacy_officer)
    response = changelist_action(
        client, "accounts.account", "anonymise_accounts", [closed_customer.account, open_account]
    )
    text = " ".join(messages_of(response))
    assert "anonymised" in text and open_account.number in text and "close it first" in text
    assert Account.objects.get(pk=closed_customer.account.pk).email == ""
    assert Account.objects.get(pk=open_account.pk).email == open_account.email
    assert DataProtectionRecord.objects.get(account=closed_customer.account).actor == "priya"


def test_staff_without_the_permission_cannot_export(closed_customer: Customer, make_staff: Any, login_a: Any) -> None:
    clerk = make_staff("carl", "Finance Clerk")
    client = login_a(clerk)
    response = changelist_action(client, "accounts.account", "export_personal_data", [closed_customer.account])
    assert response["Content-Type"].startswith("text/html")
    assert not DataProtectionRecord.objects.exists()
