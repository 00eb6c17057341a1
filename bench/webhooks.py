"""Webhook delivery end to end vs a plain httpx loop (issue 5).

Events are published through the outbox in committed transactions of --per-transaction events
each (a ledger operation publishes a few: invoice.finalized + invoice.sent, or
payment.succeeded + invoice.paid, ...). A real Celery worker (--concurrency prefork processes,
real Redis) delivers them, signed, to a receiver on 127.0.0.1 (a separate process): each
commit kicks the tenant's drain task (one message per burst), which claims due deliveries in
rounds and POSTs them WEBHOOK_SEND_CONCURRENCY at a time over one keep-alive client per process.
Drain phase: the outbox is filled while the worker does not consume, then delivery alone is
timed. Live phase: published while delivered, for commit-to-delivery latency. The baseline
posts the same signed envelopes to the same receiver from a plain loop with the same
concurrency: as many threads (one pooled httpx.Client each) as the worker keeps POSTs in
flight (processes working on the tenant x WEBHOOK_SEND_CONCURRENCY).
Reported: both throughputs, their ratio (goal >= 0.5x), and commit-to-delivery p50/p99.

    python -m bench.webhooks [--events 10000] [--concurrency 2] [--per-transaction 4]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SLUG = "benchhooks"
BASE_DIR = Path(__file__).resolve().parent.parent


def serve(port: int, ready: Any) -> None:
    """The receiver process: records (event id -> first arrival, monotonic clock); GET / reports."""
    arrivals: dict[str, float] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK hold
        # every answer ~40 ms, which capped both sides of the comparison at ~40 req/s.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            now = time.monotonic()
            document = json.loads(body)
            with lock:
                for item in document if isinstance(document, list) else [document]:
                    arrivals.setdefault(item["id"], now)
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self) -> None:
            with lock:
                answer = json.dumps(arrivals if self.path == "/all" else {"count": len(arrivals)}).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_DELETE(self) -> None:
            with lock:
                arrivals.clear()
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ready.set()
    server.serve_forever()


def wait_count(base: str, count: int, timeout: float) -> float:
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            if client.get(base).json()["count"] >= count:
                return time.monotonic()
            time.sleep(0.05)
    raise RuntimeError(f"receiver did not get {count} events in {timeout}s")


def publish_all(count: int, per_transaction: int, prefix: str) -> tuple[dict[str, float], float, float]:
    """Publish `count` events, `per_transaction` per committed transaction; {event id: commit time}."""
    from django.db import transaction

    from apps.events.services import publish

    committed: dict[str, float] = {}
    per = max(1, per_transaction)
    started = time.monotonic()
    for first in range(0, count, per):
        with transaction.atomic():
            events = [
                publish("account.created", f"{prefix}-{i}", {"account": f"{prefix}-{i}"})
                for i in range(first, min(first + per, count))
            ]
        at = time.monotonic()
        committed.update((str(event.id), at) for event in events)
    return committed, started, time.monotonic()


def start_worker(concurrency: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(BASE_DIR / ".local" / "bench-webhooks-worker.log", "wb")  # noqa: SIM115 - lives with the worker
    hostname = f"bench-webhooks-{os.getpid()}@%h"
    command = [sys.executable, "-m", "celery", "-A", "billing_project", "worker", "-Q", "webhooks"]
    command += ["-c", str(concurrency), "--hostname", hostname, "--without-gossip", "--without-mingle"]
    command += ["--loglevel", "WARNING"]
    return subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--per-transaction", type=int, default=4, help="events published per transaction")
    options = parser.parse_args(argv)
    (BASE_DIR / ".local").mkdir(exist_ok=True)

    from bench.report import percentile, scratch_database, write_section

    os.environ["EVENT_PUBLISHERS"] = "apps.events.publishers.WebhookPublisher"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
    with scratch_database("bench_webhooks"):
        import django

        django.setup()
        import httpx
        from django.core.management import call_command
        from django.db import transaction
        from django_tenants.utils import schema_context

        from apps.events.models import Event
        from apps.events.services import event_envelope, publish
        from apps.events.signing import signed_headers
        from apps.events.webhooks import endpoint_create
        from apps.tenants.services import tenant_create
        from billing_project.celery import app

        call_command("migrate_schemas", interactive=False, verbosity=0)
        tenant_create(slug=SLUG, name="Bench webhooks")

        ready = multiprocessing.Event()
        port = 18000 + os.getpid() % 1000
        receiver = multiprocessing.Process(target=serve, args=(port, ready), daemon=True)
        receiver.start()
        ready.wait(10)
        base = f"http://127.0.0.1:{port}/"
        app.control.purge()
        from django.conf import settings

        from apps.core.redis import redis_client, redis_key

        # A drain marker left by an interrupted earlier run would hold back the first kicks.
        for key in redis_client().scan_iter(redis_key("events", "drain", SLUG, "*")):
            redis_client().delete(key)
        # POSTs the worker keeps in flight for one tenant: its processes that drain it at once,
        # each WEBHOOK_SEND_CONCURRENCY at a time. The baseline uses as many threads.
        drains = min(options.concurrency, max(1, settings.WEBHOOK_DRAINS_PER_TENANT))
        in_flight = drains * max(1, settings.WEBHOOK_SEND_CONCURRENCY)
        worker = start_worker(options.concurrency, dict(os.environ))
        deadline = time.monotonic() + 120
        while not app.control.ping(destination=[f"bench-webhooks-{os.getpid()}@{os.uname().nodename}"], timeout=1.0):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the bench worker never answered; see .local/bench-webhooks-worker.log")
        try:
            with schema_context(SLUG):
                endpoint = endpoint_create(url=f"{base}hooks", event_types=["*"])
                # Warm up: every worker process has delivered (database connection, HTTP client)
                # before the clock starts. A backlog of a few full claims makes the helper drain
                # run too, on the other process.
                app.control.cancel_consumer("webhooks", reply=True)
                warm = 2 * options.concurrency * max(1, settings.WEBHOOK_DELIVERIES_PER_TASK)
                with transaction.atomic():
                    for n in range(warm):
                        publish("account.created", f"warm-{n}", {"account": f"warm-{n}"})
                app.control.add_consumer("webhooks", reply=True)
                wait_count(base, warm, 300)
                httpx.delete(base)

                # 1. Live: publish while the worker delivers (latency, and the rate the publisher allows).
                committed, started, published = publish_all(options.events, options.per_transaction, "live")
                finished = wait_count(base, options.events, 900)
                arrivals: dict[str, float] = httpx.get(f"{base}all", timeout=60).json()
                latencies = [arrivals[event_id] - at for event_id, at in committed.items()]
                live_rate = options.events / (finished - started)

                # 2. Drain: the same number of events committed to the outbox (their Celery
                # messages queued) while the worker does not consume; then consume and time
                # outbox -> Celery -> receiver alone, the work the httpx loop does.
                app.control.cancel_consumer("webhooks", reply=True)
                httpx.delete(base)
                committed, _s, _p = publish_all(options.events, options.per_transaction, "drain")
                early = httpx.get(base).json()["count"]  # at most the few messages already prefetched
                drain_started = time.monotonic()
                app.control.add_consumer("webhooks", reply=True)
                drain_finished = wait_count(base, options.events, 900)
                pipeline_rate = (options.events - early) / (drain_finished - drain_started)

                # Baseline: the same envelopes, signed, from a plain httpx loop with the same concurrency.
                envelopes = [
                    json.dumps(event_envelope(e, SLUG), separators=(",", ":")).encode()
                    for e in Event.objects.filter(id__in=list(committed)).order_by("sequence")
                ]
            httpx.delete(base)
            chunks = [envelopes[i::in_flight] for i in range(in_flight)]

            def send(bodies: list[bytes]) -> None:
                with httpx.Client(timeout=10, follow_redirects=False) as client:
                    for n, body in enumerate(bodies):
                        headers = signed_headers([endpoint.secret], f"msg_{n}", int(time.time()), body)
                        client.post(f"{base}hooks", content=body, headers=headers).raise_for_status()

            threads = [threading.Thread(target=send, args=(chunk,)) for chunk in chunks]
            base_started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            baseline_rate = len(envelopes) / (time.monotonic() - base_started)
        finally:
            worker.terminate()
            worker.wait(60)
            receiver.kill()

    ratio = pipeline_rate / baseline_rate
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    publish_rate = options.events / (published - started)
    load = "/".join(f"{value:.2f}" for value in os.getloadavg())
    send = max(1, settings.WEBHOOK_SEND_CONCURRENCY)
    body = f"""
`account.created` events published {options.per_transaction} per committed transaction (outbox rows +
delivery rows in the transaction; on commit a Redis `SET NX` marker makes sure one drain task is
queued or running for the tenant, so a burst of commits enqueues one message), delivered by a
real Celery worker (`-c {options.concurrency}` prefork, real Redis) with Standard Webhooks
signatures to a receiver process on 127.0.0.1 (TCP_NODELAY). The drain claims
`WEBHOOK_DELIVERIES_PER_TASK={settings.WEBHOOK_DELIVERIES_PER_TASK}` due deliveries per statement
(`FOR UPDATE SKIP LOCKED`, leased), POSTs them `WEBHOOK_SEND_CONCURRENCY={send}` at a time over
one keep-alive httpx client per process and records each round in one statement; with a
backlog a helper drain joins (`WEBHOOK_DRAINS_PER_TENANT={settings.WEBHOOK_DRAINS_PER_TENANT}`):
at most **{in_flight} POSTs in flight** ({drains} processes x {send}). Baseline: the same
signed envelopes POSTed by a plain httpx loop with the same concurrency (**{in_flight} threads**,
one pooled client each). Two phases of {options.events:,} events each: **drain** (the events
committed to the outbox while the worker does not consume; then timed from "consume" until
the receiver has them all: outbox → Celery → receiver, the work the httpx loop does) and
**live** (published while the worker delivers; the single publishing process is the limit
there).

| | events/s |
|---|---|
| drain: outbox → Celery → receiver | {pipeline_rate:,.0f} |
| plain httpx loop, {in_flight} threads (baseline) | {baseline_rate:,.0f} |
| **ratio** (goal ≥ 0.5x) | **{ratio:.2f}x** |
| live: publish → receiver (end to end) | {live_rate:,.0f} |
| live: publishing alone | {publish_rate:,.0f} |

Commit-to-delivery latency (live phase): p50 {p50:,.0f} ms, p99 {p99:,.0f} ms.
Load average at the end (1/5/15 min): {load}.

`python -m bench.webhooks --events {options.events} --per-transaction {options.per_transaction}`
"""
    write_section("webhooks", "Webhooks: outbox → Celery → receiver vs a plain httpx loop", body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
