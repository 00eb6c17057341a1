"""Event numbering: how long one tenant's publishing transactions wait for each other.

A scratch database gets three schemas, each with the real `events_event` columns and indexes
and an `events_eventsequence` counter row. `--threads` threads (own connections) run
transactions that publish 2 events, do `work` ms of other work (pg_sleep: the rest of a
payment), then COMMIT, for `--seconds` per run, designs interleaved, `--rounds` runs; the
median transactions per second per design are printed:
- before: UPDATE counter ... RETURNING at publish, the row lock held until COMMIT;
- a: the event inserted unnumbered, numbered at COMMIT by migration events/0004's trigger;
- b: the event inserted unnumbered only (numbering left to every reader): writers' upper bound.
Afterwards each numbered schema is checked gapless. Figures: docs/benchmarks.md, "Event
numbering at commit".

    python -m bench.event_numbering [--threads 8] [--seconds 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import uuid
from importlib import import_module

import psycopg

DESIGNS = ("before", "a", "b")
TABLES = """
CREATE TABLE events_eventsequence (id smallint PRIMARY KEY, value bigint NOT NULL);
INSERT INTO events_eventsequence VALUES (1, 0);
CREATE TABLE events_event (
    id uuid PRIMARY KEY, type varchar(100) NOT NULL, subject varchar(100) NOT NULL, sequence bigint UNIQUE,
    created_at timestamptz NOT NULL, api_version varchar(10) NOT NULL, data jsonb NOT NULL
);
CREATE INDEX ON events_event (type);
CREATE INDEX ON events_event (created_at);
CREATE INDEX ON events_event (type, sequence);
"""
NUMBERED_INSERT = (
    "WITH next AS (UPDATE events_eventsequence SET value = value + 1 WHERE id = 1 RETURNING value)"
    " INSERT INTO events_event (id, type, subject, sequence, created_at, api_version, data)"
    " SELECT %s, %s, %s, next.value, now(), %s, %s::jsonb FROM next"
)
PLAIN_INSERT = (
    "INSERT INTO events_event (id, type, subject, created_at, api_version, data)"
    " VALUES (%s, %s, %s, now(), %s, %s::jsonb)"
)


def setup(url: str) -> None:
    trigger_sql = import_module("apps.events.migrations.0004_sequence_at_commit").CREATE_SQL
    with psycopg.connect(url, autocommit=True) as conn:
        for design in DESIGNS:
            conn.execute(f"CREATE SCHEMA {design}")
            conn.execute(f"SET search_path = {design}")
            conn.execute(TABLES)
        conn.execute("SET search_path = a")
        conn.execute(trigger_sql)


def run(url: str, design: str, threads: int, seconds: float, work: float) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def worker(index: int) -> None:
        with psycopg.connect(url) as conn:
            conn.execute(f"SET search_path = {design}")
            conn.commit()
            while time.monotonic() < stop:
                for _ in range(2):
                    args = [uuid.uuid4(), "payment.succeeded", "p", "v1", json.dumps({"payment": "p"})]
                    conn.execute(NUMBERED_INSERT if design == "before" else PLAIN_INSERT, args)
                if work:
                    conn.execute("SELECT pg_sleep(%s)", [work])
                conn.commit()
                counts[index] += 1

    workers = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return sum(counts) / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
    import django

    django.setup()
    from bench.report import scratch_database

    with scratch_database("bench_event_numbering") as scratch:
        url = scratch.replace("postgres://", "postgresql://", 1)
        setup(url)
        print("| design | tx/s, work 0 ms | tx/s, work 20 ms |\n|---|---|---|")
        results: dict[tuple[str, float], list[float]] = {}
        for work in (0.0, 0.02):
            for _round in range(options.rounds):
                for design in DESIGNS:
                    rate = run(url, design, options.threads, options.seconds, work)
                    results.setdefault((design, work), []).append(rate)
        for design in DESIGNS:
            rates = [f"{statistics.median(results[design, work]):.0f}" for work in (0.0, 0.02)]
            print(f"| {design} | {' | '.join(rates)} |")
        with psycopg.connect(url) as conn:
            for design in ("before", "a"):
                row = conn.execute(
                    f"SELECT count(*), min(sequence), max(sequence), count(*) FILTER (WHERE sequence IS NULL)"
                    f" FROM {design}.events_event"
                ).fetchone()
                assert row is not None
                count, first, last, unnumbered = row
                gapless = unnumbered == 0 and last - first + 1 == count
                print(f"{design}: {count} events, numbered {first}..{last}, gapless: {gapless}")
                if not gapless:
                    return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
