"""Shared by the data-protection commands: the tenant's schema and an account by any of its ids."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from django.core.management.base import CommandError
from django.db.models import Q
from django_tenants.utils import schema_context

from apps.accounts.models import Account
from apps.tenants.models import Tenant


@contextmanager
def in_tenant(slug: str) -> Iterator[None]:
    if not Tenant.objects.filter(schema_name=slug).exists():
        raise CommandError(f"unknown tenant {slug!r}")
    with schema_context(slug):
        yield


def find_account(reference: str) -> Account:
    query = Q(number=reference) | Q(external_id=reference)
    with suppress(ValueError):
        query |= Q(pk=uuid.UUID(reference))
    account = Account.objects.filter(query).first()
    if account is None:
        raise CommandError(f"no account {reference!r} in this tenant")
    return account
