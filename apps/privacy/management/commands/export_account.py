"""`manage.py export_account --tenant SLUG ACCOUNT [--output FILE]`: the data-subject export."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.privacy.management.commands._lookup import find_account, in_tenant
from apps.privacy.services import account_export


class Command(BaseCommand):
    help = "Write everything billing holds about an account (id, number or external_id) as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", help="the account's id, number (ACC-000123) or external_id")
        parser.add_argument("--tenant", required=True, help="the tenant's slug")
        parser.add_argument("--output", help="file to write (default: standard output)")
        parser.add_argument("--reason", default="", help="why (kept in the audit trail)")

    def handle(self, *args: Any, **options: Any) -> None:
        with in_tenant(options["tenant"]):
            account = find_account(options["account"])
            data = account_export(account=account, actor=None, via="command", reason=options["reason"])
        text = json.dumps(data, indent=2)
        if options["output"]:
            try:
                with open(options["output"], "w", encoding="utf-8") as handle:
                    handle.write(text)
            except OSError as exc:
                raise CommandError(f"cannot write {options['output']}: {exc.strerror}") from exc
            self.stderr.write(f"exported {account.number} to {options['output']}")
        else:
            sys.stdout.write(text + "\n")
