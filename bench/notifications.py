"""10,000 email notifications through Celery vs a plain loop in one process (issue 6).

Both paths do the same work per message: render the kind's subject, text and HTML in the
account's language from the strict templates, hand the message to anymail's Postmark backend
(the real client) pointed at a fake Postmark API on 127.0.0.1 (its own process), and record
the outcome (status, provider id, a notification.sent event in the outbox).

- baseline: `send_notification` for every message in one transaction, then
  `notification_deliver` for each in a loop, in this one process;
- Celery: `send_notification` for every message in one transaction; after commit each goes
  to the `notifications` queue (real Redis) and a real worker (prefork, 2 processes: the
  machine's cores) delivers them; timed until the fake ESP has accepted every message and
  every record says sent.

What counts is what the fake ESP accepted (its own counter, read over HTTP from its process):
each path must hand it exactly `count` messages, no fewer (a stalled or failing worker ends
the run with the reason) and no more (a message sent twice is an error, not a figure).

    python -m bench.notifications [--count 10000] [--accounts 200] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.request import urlopen

BASE_DIR = Path(__file__).resolve().parent.parent
SLUG = "benchnotif"
LOCAL = BASE_DIR / ".local"
KINDS = ["payment_succeeded", "payment_failed", "dunning_reminder", "account_reactivated"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BenchFailed(RuntimeError):
    """The run cannot give an honest figure (a path did not send every message exactly once)."""


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)  # polling a condition with a deadline, not synchronising on time
    raise BenchFailed(f"timed out after {timeout:.0f} s waiting for {what}")


def start_fake_esp(port: int) -> subprocess.Popen[bytes]:
    LOCAL.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.notifications.fakes", "postmark", str(port)],
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        # Not a pipe nobody reads: a full pipe would stall the fake's threads.
        stderr=(LOCAL / "bench-notifications-esp.log").open("wb"),
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    if "serving" not in line:
        raise BenchFailed(f"fake ESP did not start: {line.strip() or 'no output'}")
    return process


def esp_accepted(port: int) -> int:
    """How many messages the fake ESP has accepted (answered 2xx) since it started."""
    with urlopen(f"http://127.0.0.1:{port}/_fake/stats", timeout=10) as response:
        return int(json.loads(response.read())["accepted"])


def start_worker(concurrency: int) -> subprocess.Popen[bytes]:
    from billing_project.celery import app

    name = f"bench-notifications-{os.getpid()}"
    LOCAL.mkdir(exist_ok=True)
    log = (LOCAL / "bench-notifications-worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "billing_project", "worker", "-Q", "notifications-high,notifications",
         "-c", str(concurrency), "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=BASE_DIR, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_until(
        lambda: (
            process.poll() is None and bool(app.control.ping(destination=[f"{name}@{socket.gethostname()}"], timeout=1))
        ),
        180,
        "the Celery worker to answer a ping (log: .local/bench-notifications-worker.log)",
    )
    return process


def stop(process: subprocess.Popen[bytes], grace: float = 60) -> None:
    """Stop a child we started: SIGTERM (a worker finishes its task), then SIGKILL."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def make_notifications(prefix: str, count: int, accounts: list[Any]) -> list[str]:
    from django.db import transaction

    from apps.notifications.services import send_notification

    ids = []
    with transaction.atomic():
        for index in range(count):
            account = accounts[index % len(accounts)]
            [notification] = send_notification(
                account=account,
                kind=KINDS[index % len(KINDS)],
                context={"amount": "₦25,000.00", "failure_reason": "Card declined", "balance": "₦0.00"},
                idempotency_key=f"{prefix}:{index}",
                channels=["email"],
            )
            ids.append(str(notification.id))
    return ids


def statuses(prefix: str) -> dict[str, int]:
    from django.db.models import Count

    from apps.notifications.models import Notification

    rows = (
        Notification.objects.filter(idempotency_key__startswith=f"{prefix}:")
        .values_list("status")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def problem(prefix: str) -> str:
    """What went wrong on a path: its records' statuses and one recorded error."""
    from apps.notifications.models import Notification

    error = (
        Notification.objects.filter(idempotency_key__startswith=f"{prefix}:")
        .exclude(last_error="")
        .values_list("last_error", flat=True)
        .first()
    )
    return f"records {statuses(prefix)}" + (f"; an error: {error}" if error else "")


def check_exactly_once(prefix: str, count: int, handed: int) -> None:
    from apps.notifications.models import Notification

    if handed != count:
        raise BenchFailed(f"{prefix}: the fake ESP accepted {handed} messages, not {count}; {problem(prefix)}")
    rows = Notification.objects.filter(idempotency_key__startswith=f"{prefix}:")
    sent = rows.filter(status="sent", attempts=1).exclude(provider_message_id="").count()
    if sent != count:
        raise BenchFailed(
            f"{prefix}: {sent} of {count} records sent in one attempt with a provider id; {problem(prefix)}"
        )


def run_celery(args: argparse.Namespace, port: int, accounts: list[Any]) -> dict[str, float]:
    """Time the Celery path until the fake has every message and every record says sent."""
    before = esp_accepted(port)
    progress = {"handed": 0, "at": time.monotonic()}

    def all_handed() -> bool:
        handed = esp_accepted(port) - before
        if handed > progress["handed"]:
            progress.update(handed=handed, at=time.monotonic())
        elif time.monotonic() - progress["at"] > args.stall:
            raise BenchFailed(
                f"celery: no message reached the fake ESP for {args.stall:.0f} s ({handed} of {args.count}); "
                f"{problem('celery')} (worker log: .local/bench-notifications-worker.log)"
            )
        return handed >= args.count

    started = time.perf_counter()
    make_notifications("celery", args.count, accounts)
    enqueued_seconds = time.perf_counter() - started
    handed_when_enqueued = esp_accepted(port) - before
    progress["at"] = time.monotonic()
    wait_until(all_handed, args.timeout, f"the fake ESP to accept {args.count} messages", interval=0.2)
    handed_seconds = time.perf_counter() - started
    wait_until(lambda: statuses("celery").get("sent", 0) >= args.count, 300, "every record to say sent", interval=0.2)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "handed_seconds": handed_seconds,
        "enqueued_seconds": enqueued_seconds,
        "handed_when_enqueued": handed_when_enqueued,
        "before": before,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds for the Celery path to send everything")
    parser.add_argument("--stall", type=float, default=120, help="seconds without progress before giving up")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(BASE_DIR))
    try:
        return run(args)
    except BenchFailed as exc:
        print(f"bench.notifications failed: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    from bench.report import scratch_database, write_section

    port = free_port()
    load_start = os.getloadavg()
    with ExitStack() as stack:
        stack.enter_context(scratch_database("bench_notifications"))
        esp = start_fake_esp(port)
        stack.callback(stop, esp, 10)
        os.environ.update(
            {
                "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
                "ANYMAIL_POSTMARK_SERVER_TOKEN": "bench-token",
                "ANYMAIL_POSTMARK_API_URL": f"http://127.0.0.1:{port}/",
                "DJANGO_SETTINGS_MODULE": "billing_project.settings",
                "LOG_LEVEL": "WARNING",
            }
        )
        import django

        django.setup()
        from django.core.management import call_command

        from apps.core.tenancy import use_public_schema, use_tenant
        from apps.notifications.delivery import notification_deliver
        from apps.tenants.services import tenant_create
        from tests.accounts.factories import AccountFactory

        call_command("migrate_schemas", interactive=False, verbosity=0)
        call_command("compile_translations", verbosity=0)
        tenant = tenant_create(slug=SLUG, name="Bench notifications")
        use_tenant(tenant)
        stack.callback(use_public_schema)
        languages = ["en", "fr", "es"]
        accounts = [AccountFactory(locale=languages[i % 3]) for i in range(args.accounts)]
        print(f"{args.accounts} accounts; {args.count} emails per path", flush=True)

        # Baseline: one process, a plain loop (nothing enqueued).
        with mock.patch("apps.notifications.services.schedule_delivery"):
            started = time.perf_counter()
            for notification_id in make_notifications("loop", args.count, accounts):
                notification_deliver(notification_id=notification_id)
            loop_seconds = time.perf_counter() - started
        loop_handed = esp_accepted(port)
        check_exactly_once("loop", args.count, loop_handed)
        print(f"plain loop: {loop_seconds:.1f} s ({loop_handed} accepted by the fake ESP)", flush=True)

        # Celery: real Redis, a real prefork worker.
        from billing_project.celery import app

        app.control.purge()
        worker = start_worker(args.concurrency)
        stack.callback(stop, worker)
        celery = run_celery(args, port, accounts)
        stop(worker)  # a duplicate send would show in the counter once the worker is gone
        celery_handed = esp_accepted(port) - loop_handed
        check_exactly_once("celery", args.count, celery_handed)
        print(
            f"celery: {celery['seconds']:.1f} s; all {celery_handed} accepted by the fake ESP at "
            f"{celery['handed_seconds']:.1f} s (records and enqueueing {celery['enqueued_seconds']:.1f} s)",
            flush=True,
        )

    celery_seconds = celery["seconds"]
    ratio = celery_seconds / loop_seconds
    loop_rate, celery_rate = args.count / loop_seconds, args.count / celery_seconds
    load_end = os.getloadavg()
    size = (
        ""
        if args.count == 10_000
        else f" (run with --count {args.count:,}, not the 10,000 the issue asks for: the shared 2-core box)"
    )
    load = "/".join(f"{value:.1f}" for value in load_start), "/".join(f"{value:.1f}" for value in load_end)
    body = f"""
{args.count:,} email notifications{size} (four kinds, en/fr/es, {args.accounts} accounts), each
rendered from the strict templates (subject, text, HTML) and handed to anymail's Postmark
backend talking to a fake Postmark API on 127.0.0.1 in its own process (HTTP/1.1 keep-alive,
as the real API); the outcome recorded with its `notification.sent` event. Both paths include
recording the notifications. A path counts only when the fake's own counter shows exactly
{args.count:,} messages accepted and every record says sent after one attempt.

| path | wall time | messages/s |
|---|---|---|
| plain loop, one process (baseline) | {loop_seconds:.1f} s | {loop_rate:.0f} |
| Celery, real Redis, worker with {args.concurrency} processes | {celery_seconds:.1f} s | {celery_rate:.0f} |

**Celery / loop: {ratio:.2f}x the time.** Load average (1/5/15 min) {load[0]} at the start
and {load[1]} at the end: the box and its 2 cores are
shared, and the worker's 2 processes compete with Postgres, Redis, the fake and this process.
On the Celery path, recording and enqueueing the {args.count:,} notifications took
{celery["enqueued_seconds"]:.1f} s, by which time the fake had accepted
{celery["handed_when_enqueued"]:,.0f} of them; the last reached it at {celery["handed_seconds"]:.1f} s.
"""
    title = f"Notifications: {args.count:,} emails through Celery vs a plain loop"
    write_section("notifications", title, body)
    print(f"ratio celery/loop = {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
