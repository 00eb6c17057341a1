"""Accounts made the way production makes them: through the service."""

from __future__ import annotations

from typing import Any, cast

import factory

from apps.accounts.models import Account
from apps.accounts.services import account_create


class _AccountFactory(factory.Factory[Account]):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    currency = "NGN"
    phone = "+2348012345678"
    external_id = factory.Sequence(lambda n: f"sub-{1000 + n}")

    @classmethod
    def _create(cls, model_class: type[Account], *args: Any, **kwargs: Any) -> Account:
        return account_create(**kwargs)


def AccountFactory(**overrides: Any) -> Account:
    """An account made through `account_create`, typed as the Account it returns."""
    return cast(Account, _AccountFactory(**overrides))
