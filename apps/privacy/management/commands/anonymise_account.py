"""`manage.py anonymise_account --tenant SLUG ACCOUNT --reason WHY --yes`: erase a closed account's person."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.privacy.management.commands._lookup import find_account, in_tenant
from apps.privacy.services import account_anonymise


class Command(BaseCommand):
    help = "Anonymise a closed account: personal data erased, financial records kept, account.anonymised sent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", help="the account's id, number (ACC-000123) or external_id")
        parser.add_argument("--tenant", required=True, help="the tenant's slug")
        parser.add_argument("--reason", required=True, help="why (kept in the audit trail), e.g. the request's ticket")
        parser.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["yes"]:
            raise CommandError("anonymisation cannot be undone: add --yes to confirm")
        with in_tenant(options["tenant"]):
            account = find_account(options["account"])
            try:
                account = account_anonymise(account=account, actor=None, via="command", reason=options["reason"])
            except DomainError as exc:
                raise CommandError(f"{account.number}: {exc.message}") from exc
        self.stdout.write(f"anonymised {account.number}")
