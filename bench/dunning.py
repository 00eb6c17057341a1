"""Dunning run over 10 tenants x 1,000 overdue accounts, end to end through Celery (issue #7).

The run: `manage.py dunning_run --as-of D+1` (the same path as beat) with two real worker
processes on real Redis: plan each tenant's run, fan the chunks out on the `dunning` queue,
execute the D+1 step for every account (case, overdue marker, action, notification when
installed, events), wait for every chunk. The floor: bulk-inserting the same action and
notification rows in one process. Goal: the run within 4x of the floor.

    python -m bench.dunning [--tenants 10] [--accounts 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
DUE = dt.date(2026, 3, 2)


def seed_overdue_accounts(count: int, *, due: dt.date = DUE, amount: str = "25000.00", prefix: str = "B") -> list[Any]:
    """`count` NGN accounts, each owing one open invoice due on `due` (bulk rows, ledger-consistent)."""
    from django.utils import timezone

    from apps.accounts.models import Account
    from apps.invoices.models import Invoice, InvoiceStatus

    value = Decimal(amount)
    now = timezone.now()
    tag = uuid.uuid4().hex[:6]
    accounts = [
        Account(
            number=f"{prefix}{tag}-{n:06d}",
            name=f"Bench customer {n}",
            email=f"c{n}@example.test",
            phone="+2348012345678",
            currency="NGN",
            amount_due=value,
        )
        for n in range(count)
    ]
    Account.objects.bulk_create(accounts, batch_size=1000)
    Invoice.objects.bulk_create(
        [
            Invoice(
                account=account,
                number=f"INV-{prefix}{tag}-{n:06d}",
                status=InvoiceStatus.OPEN,
                currency="NGN",
                issue_date=due - dt.timedelta(days=14),
                due_date=due,
                subtotal=value,
                total=value,
                amount_due=value,
                finalized_at=now,
            )
            for n, account in enumerate(accounts)
        ],
        batch_size=1000,
    )
    return [a.pk for a in accounts]


def _floor(schemas: list[str], *, copy: bool) -> float:
    """Bulk-insert one case and one action (and one notification when the app exists) per seeded
    account: with Django's bulk_create, or with COPY (what the run itself writes with)."""
    from django.apps import apps
    from django.db import transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.accounts.models import Account
    from apps.dunning.copying import copy_insert
    from apps.dunning.models import DunningAction, DunningCase, DunningPolicy, Outcome

    def insert(model: Any, rows: list[Any]) -> None:
        if copy:
            copy_insert(model, rows)
        else:
            model.objects.bulk_create(rows, batch_size=1000)

    started = time.perf_counter()
    for schema in schemas:
        with schema_context(schema), transaction.atomic():
            policy = DunningPolicy.objects.get(is_default=True)
            step = policy.steps.order_by("offset_days").first()
            assert step is not None
            account_ids = list(Account.objects.values_list("pk", flat=True))
            cases = [
                DunningCase(account_id=pk, policy=policy, anchor_date=DUE, currency="NGN", status="resolved")
                for pk in account_ids
            ]
            insert(DunningCase, cases)
            now = timezone.now()
            insert(
                DunningAction,
                [
                    DunningAction(
                        case=case,
                        step=step,
                        action=step.action,
                        offset_days=step.offset_days,
                        scheduled_for=DUE + dt.timedelta(days=1),
                        run_date=DUE + dt.timedelta(days=1),
                        executed_at=now,
                        outcome=Outcome.SUCCEEDED,
                    )
                    for case in cases
                ],
            )
            if apps.is_installed("apps.notifications") and "Notification" in {
                m.__name__ for m in apps.get_app_config("notifications").get_models()
            }:
                _bulk_notifications(account_ids, insert)
            transaction.set_rollback(True)
    return time.perf_counter() - started


def _bulk_notifications(account_ids: list[Any], insert: Any) -> None:
    from django.apps import apps

    label = "notifications.Notification"  # a variable: the model lands with #6
    model = apps.get_model(label)
    fields = {f.name for f in model._meta.get_fields()}
    rows = []
    for pk in account_ids:
        row: dict[str, Any] = {"account_id": pk}
        for name, value in (("kind", "dunning_reminder"), ("channel", "email"), ("status", "queued")):
            if name in fields:
                row[name] = value
        if "idempotency_key" in fields:
            row["idempotency_key"] = f"bench:{pk}"
        rows.append(model(**row))
    insert(model, rows)


def _start_workers(count: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    from billing_project.celery import app

    name = f"bench-dunning-{os.getpid()}"
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "billing_project", "worker", "-Q", "dunning", "-c", str(count),
         "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        cwd=BASE_DIR, env=env, stdout=handle, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker died; see {log}")
        if app.control.ping(destination=[f"{name}@{os.uname().nodename}"], timeout=1.0):
            return process
    process.kill()
    raise RuntimeError(f"worker never answered; see {log}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args(argv)

    from bench.report import scratch_database, write_section

    with scratch_database("bench_dunning") as url:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django_tenants.utils import schema_context

        from apps.core.tenancy import use_public_schema
        from apps.dunning.models import DunningAction
        from apps.tenants.services import tenant_create

        call_command("migrate_schemas", verbosity=0)
        use_public_schema()
        schemas = [f"dun{n:02d}" for n in range(options.tenants)]
        for schema in schemas:
            tenant_create(slug=schema, name=f"Bench {schema}")
            with schema_context(schema):
                seed_overdue_accounts(options.accounts)
            with schema_context(schema), connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        floor_orm = _floor(schemas, copy=False)
        floor = _floor(schemas, copy=True)

        env = {**os.environ, "DATABASE_URL": url}
        log = BASE_DIR / ".local" / "bench-dunning-worker.log"
        log.parent.mkdir(exist_ok=True)
        workers = _start_workers(options.workers, env, log)
        try:
            started = time.perf_counter()
            call_command("dunning_run", as_of=(DUE + dt.timedelta(days=1)).isoformat(), stdout=io.StringIO())
            run = time.perf_counter() - started
        finally:
            workers.terminate()
            workers.wait(timeout=60)
        actions = 0
        for schema in schemas:
            with schema_context(schema):
                actions += DunningAction.objects.count()
        expected = options.tenants * options.accounts
        if actions != expected:
            print(f"expected {expected} actions, found {actions}", file=sys.stderr)
            return 1
        ratio = run / floor

        def per(seconds: float) -> str:
            return f"{1000 * seconds / expected:.2f} ms"

        load = "/".join(f"{value:.1f}" for value in os.getloadavg())
        body = f"""
{options.tenants} tenants x {options.accounts:,} overdue accounts, the D+1 step for each, through
`manage.py dunning_run` with {options.workers} worker processes on real Redis (chunks of
{_chunk()} accounts per task: one transaction, bulk writes, one round trip for the events).

| | seconds | per account | run / this |
|---|---|---|---|
| floor: COPY of the same rows, one process | {floor:.2f} | {per(floor)} | **{ratio:.1f}x** |
| same rows with bulk_create, one process | {floor_orm:.2f} | {per(floor_orm)} | {run / floor_orm:.1f}x |
| dunning run, end to end | {run:.2f} | {per(run)} | |

Goal: the run within 4x of the floor. Per account the run writes a case, an overdue marker,
an action and three events (`dunning.started`, `invoice.overdue`, `dunning.step_executed`),
where the floor writes two (case and action; plus a notification each once #6 is in);
the run writes its own rows with COPY too, so the headline ratio is against the COPY floor.
Load average during the run (1/5/15 min, 2 cores shared with other work): {load}.
"""
        write_section("dunning", "Dunning run: 10 tenants x 1,000 overdue accounts", body)
        print(f"floor (COPY) {floor:.2f}s, floor (bulk_create) {floor_orm:.2f}s, run {run:.2f}s, ratio {ratio:.1f}x")
    return 0


def _chunk() -> int:
    from django.conf import settings

    return int(settings.DUNNING_CHUNK_SIZE)


if __name__ == "__main__":
    sys.exit(main())
