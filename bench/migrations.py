"""Tenant-safe migrations at fleet scale (issue: tenant-safe migrations).

One pending migration (the test fixture app's CHECK constraint, over a table of readings in every
tenant) applied to N tenants:

- serial vs `safe_migrate --parallel 4` (goal: parallel at most 0.65x serial);
- per-tenant time with 10 tenants vs N (goal: flat within 1.3x);
- `safe_migrate` (backup, validation, records) vs bare `migrate_schemas` (ratio reported).

    python -m bench.migrations [--tenants 200] [--small 10] [--parallel 4] [--rows 20]

Runs in a scratch database; commands run as subprocesses, as an operator runs them.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURE_SETTINGS = "tests.migration_fixture.settings"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--rows", type=int, default=20, help="readings per tenant")
    options = parser.parse_args(argv)

    from bench.report import scratch_database, write_section

    os.environ["DJANGO_SETTINGS_MODULE"] = FIXTURE_SETTINGS
    os.environ["MIGRATION_FIXTURE_SET"] = "constraint"
    os.environ.setdefault("DJANGO_ENV", "dev")
    load_before = os.getloadavg()[0]
    with scratch_database("bench_migrations"), tempfile.TemporaryDirectory() as backups:
        import django

        django.setup()
        bench = FleetBench(Path(backups), rows=options.rows)
        bench.prepare()
        bench.grow_to(options.small)
        small_wall, small_per_tenant = bench.safe_migrate(1)
        bench.grow_to(options.tenants)
        bare_wall = bench.bare_migrate()
        serial_wall, large_per_tenant = bench.safe_migrate(1)
        parallel_wall, _ = bench.safe_migrate(options.parallel)

    load_after = os.getloadavg()[0]
    n, p = options.tenants, options.parallel
    parallel_ratio = parallel_wall / serial_wall
    flat_ratio = large_per_tenant / small_per_tenant
    overhead = serial_wall / bare_wall
    body = f"""
One pending migration (a CHECK constraint over {options.rows} rows per tenant) applied to every
tenant, public and the template; wall time of the whole command, as an operator runs it.

| run | tenants | wall time | per tenant |
|---|---:|---:|---:|
| bare `migrate_schemas` (standard executor) | {n} | {bare_wall:.1f} s | {bare_wall / n * 1000:.0f} ms |
| `safe_migrate --parallel 1` | {options.small} | {small_wall:.1f} s | {small_per_tenant * 1000:.0f} ms |
| `safe_migrate --parallel 1` | {n} | {serial_wall:.1f} s | {large_per_tenant * 1000:.0f} ms |
| `safe_migrate --parallel {p}` | {n} | {parallel_wall:.1f} s | {parallel_wall / n * 1000:.0f} ms |

"Per tenant" for the serial `safe_migrate` runs is the mean of the per-tenant durations the run
recorded (lock, `pg_dump`, row counts, migrate, validation, commit), so interpreter start-up does
not flatter the big fleet.

- Parallel {p} vs serial over {n} tenants: **{parallel_ratio:.2f}x**
  ({_verdict(parallel_ratio, 0.65)} the goal of at most 0.65x).
- Per-tenant time at {n} vs {options.small} tenants: **{flat_ratio:.2f}x**
  ({_verdict(flat_ratio, 1.3)} the goal of at most 1.3x).
- Overhead of backup + validation + records (`safe_migrate --parallel 1` vs bare `migrate_schemas`):
  **{overhead:.2f}x**.

Load average (1 min) when the run started and ended: {load_before:.1f} and {load_after:.1f}
(on 2 cores; anything above ~1 means other work shared the machine and the ratios are pessimistic).
"""
    write_section("migrations", "Tenant-safe migrations (safe_migrate)", body)
    print(body)
    return 0


def _verdict(ratio: float, goal: float) -> str:
    return "meets" if ratio <= goal else "misses"


class FleetBench:
    """A scratch fleet with the fixture app at 0001 everywhere and its 0002 pending."""

    def __init__(self, backup_dir: Path, *, rows: int) -> None:
        self.backup_dir = backup_dir
        self.rows = rows
        self.created = 0

    def manage(self, *args: str) -> tuple[float, str]:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return elapsed, done.stdout

    def session(self):
        import psycopg

        return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)

    def reset(self) -> None:
        from tests.migration_fixture.reset import reset_fixture

        with self.session() as session:
            reset_fixture(session)

    def prepare(self) -> None:
        self.manage("migrate_schemas", "--noinput", "-v", "0")
        self.manage("migrate_schemas", "-s", "tenant_template", "migration_fixture", "0001", "--noinput", "-v", "0")
        self.reset()

    def grow_to(self, count: int) -> None:
        """Create tenants (cloned from the template, at the fixture's 0001) with readings, up to `count`."""
        from django.db import connections

        from apps.core.tenancy import use_public_schema
        from apps.tenants.services import tenant_create

        while self.created < count:
            use_public_schema()
            slug = f"fleet{self.created:04d}"
            tenant_create(slug=slug, name=f"Fleet {self.created}")
            with self.session() as session:
                session.execute(
                    f'INSERT INTO "{slug}".migration_fixture_meter (reading, note) '
                    "SELECT n, 'bench' FROM generate_series(1, %s) AS n",
                    [self.rows],
                )
            self.created += 1
            if self.created % 50 == 0:
                print(f"  {self.created} tenants", flush=True)
        connections.close_all()

    def bare_migrate(self) -> float:
        self.reset()
        elapsed, _output = self.manage("migrate_schemas", "--noinput", "-v", "0")
        return elapsed

    def safe_migrate(self, parallel: int) -> tuple[float, float]:
        """Wall time of a run and the mean per-tenant duration it recorded."""
        from django.db import connections
        from django.db.models import Avg

        from apps.tenants.models import MigrationTenantResult

        self.reset()
        elapsed, output = self.manage(
            "safe_migrate", "--parallel", str(parallel), "--backup-dir", str(self.backup_dir), "--keep-backups", "1"
        )
        run = int(re.search(r"^Run (\d+):", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
        mean = MigrationTenantResult.objects.filter(run_id=run, schema_kind="tenant").aggregate(Avg("duration_seconds"))
        connections.close_all()
        print(f"  safe_migrate --parallel {parallel} over {self.created} tenants: {elapsed:.1f}s", flush=True)
        return elapsed, float(mean["duration_seconds__avg"])


if __name__ == "__main__":
    sys.exit(main())
