"""Tenant creation time with 10 vs 300 existing tenants (issue: foundation).

New tenants are cloned from the template schema; the goal is that creating one with 300
tenants already present takes no more than 1.5x the time with 10.

    python -m bench.tenant_creation [--small 10] [--large 300] [--samples 7]
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=300)
    parser.add_argument("--samples", type=int, default=7)
    options = parser.parse_args(argv)

    from bench.report import median, scratch_database, write_section

    with scratch_database("bench_tenant_creation"):
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
        import django

        django.setup()
        from django.core.management import call_command

        from apps.core.tenancy import use_public_schema
        from apps.tenants.services import tenant_create

        call_command("migrate_schemas", interactive=False, verbosity=0)
        created = 0

        def create(prefix: str) -> float:
            nonlocal created
            use_public_schema()
            started = time.perf_counter()
            tenant_create(slug=f"{prefix}{created:04d}", name=f"Bench {created}")
            created += 1
            return time.perf_counter() - started

        def fill_to(count: int) -> None:
            while created < count:
                create("fill")
                if created % 50 == 0:
                    print(f"  {created} tenants", flush=True)

        fill_to(options.small)
        small = [create("s") for _ in range(options.samples)]
        fill_to(options.large)
        large = [create("l") for _ in range(options.samples)]

    small_ms, large_ms = median(small) * 1000, median(large) * 1000
    ratio = large_ms / small_ms
    verdict = "meets" if ratio <= 1.5 else "misses"
    body = f"""
Creating one tenant (schema cloned from `tenant_template`, migrations faked, domain row),
median of {options.samples} creations:

| existing tenants | median creation time |
|---:|---:|
| {options.small} | {small_ms:.0f} ms |
| {options.large} | {large_ms:.0f} ms |

Ratio {options.large} vs {options.small}: **{ratio:.2f}x** ({verdict} the goal of at most 1.5x).
"""
    write_section("tenant_creation", "Tenant creation (foundation)", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
