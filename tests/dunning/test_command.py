"""`manage.py dunning_run`: the beat path through real workers, waited for, summarised; dry runs; errors."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from apps.accounts.models import Account, AccountStatus
from apps.dunning.models import CaseStatus, DunningAction, DunningCase
from apps.invoices.models import Invoice, InvoiceStatus
from apps.tenants.models import Tenant
from bench.dunning import seed_overdue_accounts

DUE = dt.date(2026, 3, 2)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("dunning_run", *args, stdout=out)
    return out.getvalue()


def test_a_policy_day_by_day_for_1000_invoices_across_two_tenants(
    committed_tenant: Tenant, second_committed_tenant: Tenant, start_worker: Any
) -> None:
    tenants = [committed_tenant, second_committed_tenant]
    for tenant in tenants:
        with schema_context(tenant.schema_name):
            seed_overdue_accounts(500, due=DUE)
    start_worker("dunning-1000")

    outputs = {}
    for offset in (1, 7, 14, 60):
        day = (DUE + dt.timedelta(days=offset)).isoformat()
        outputs[offset] = run("--tenant", tenants[0].schema_name, "--tenant", tenants[1].schema_name, "--as-of", day)

    assert "1000 accounts considered, 1000 cases started" in outputs[1]
    assert "D+1 Email reminder  email_reminder  succeeded  1000" in outputs[1]
    assert "D+14 Suspend the account  suspend_account  succeeded  1000" in outputs[14]
    assert "D+60 Write off (invoice uncollectible)  write_off  succeeded  1000" in outputs[60]
    assert "25000000.0000" in outputs[1].replace(",", "")  # 1,000 x 25,000.00 NGN at stake
    for tenant in tenants:
        with schema_context(tenant.schema_name):
            assert DunningAction.objects.count() == 2000
            assert set(DunningAction.objects.values_list("action", flat=True)) == {
                "email_reminder",
                "sms_reminder",
                "suspend_account",
                "write_off",
            }
            assert DunningCase.objects.filter(status=CaseStatus.WRITTEN_OFF).count() == 500
            assert Account.objects.filter(status=AccountStatus.SUSPENDED, suspension_source="dunning").count() == 500
            assert Invoice.objects.filter(status=InvoiceStatus.UNCOLLECTIBLE).count() == 500


def test_a_dry_run_shows_what_would_happen_and_changes_nothing(committed_tenant: Tenant) -> None:
    with schema_context(committed_tenant.schema_name):
        seed_overdue_accounts(3, due=DUE)
    out = run(
        "--tenant", committed_tenant.schema_name, "--as-of", (DUE + dt.timedelta(days=14)).isoformat(), "--dry-run"
    )
    assert "Dunning dry run (nothing changed): 3 accounts considered, 3 cases started" in out
    assert "D+14 Suspend the account  suspend_account  succeeded  3" in out
    assert "missed" not in out
    with schema_context(committed_tenant.schema_name):
        assert not DunningCase.objects.exists()
        assert not Account.objects.filter(status=AccountStatus.SUSPENDED).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nosuch"], "no tenant 'nosuch'"),
        (["--as-of", "03/02/2026", "--dry-run"], "--as-of must be YYYY-MM-DD"),
    ],
)
def test_bad_arguments_are_one_readable_line(db: None, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)
