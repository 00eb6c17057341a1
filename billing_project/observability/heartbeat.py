"""Liveness heartbeats of the Celery worker and beat, and the probe that reads them.

The worker touches `CELERY_HEARTBEAT_FILE` from its own timer (celery_signals.HeartbeatStep),
beat touches `<CELERY_HEARTBEAT_FILE>-beat` on every scheduler tick
(observability.beat.HeartbeatScheduler): a wedged loop stops touching, the file goes stale
and the probe fails. The probe is this module, so it starts in half a second and needs only
the image's Python (no Django set-up, no `stat`/`date` from the shell):

    python -m billing_project.observability.heartbeat [--beat] [--max-age 60] [--file PATH]

It prints one line (`ok celery heartbeat ... 3s old` or `FAIL celery heartbeat ...: 75s old`)
and exits 0 or 1. `manage.py health --worker` is the same check inside Django.
Never `celery inspect ping`: it fails on busy workers.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# settings.py's default for CELERY_HEARTBEAT_FILE (LOCAL_DIR / "celery-heartbeat"): the probe
# must not import settings, so it repeats it; tests/platform/test_heartbeat.py keeps them equal.
DEFAULT_FILE = Path(__file__).resolve().parents[2] / ".local" / "celery-heartbeat"
DEFAULT_MAX_AGE = 60.0
BEAT_SUFFIX = "-beat"


def worker_file() -> Path:
    return Path(os.environ.get("CELERY_HEARTBEAT_FILE") or DEFAULT_FILE)


def beat_file(worker: str | os.PathLike[str] | None = None) -> Path:
    """Beat's heartbeat beside the worker's: its own file when both run on one machine."""
    base = Path(worker) if worker is not None else worker_file()
    return base.with_name(base.name + BEAT_SUFFIX)


def touch(path: str | os.PathLike[str]) -> None:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.touch()


def check(path: str | os.PathLike[str], max_age: float, what: str = "celery heartbeat") -> tuple[bool, str]:
    """(fresh?, one readable line) for the heartbeat file at `path`."""
    file = Path(path)
    try:
        age = max(time.time() - file.stat().st_mtime, 0.0)
    except FileNotFoundError:
        return False, f"FAIL {what} {file}: missing"
    if age > max_age:
        return False, f"FAIL {what} {file}: {age:.0f}s old (limit {max_age:.0f}s)"
    return True, f"ok   {what} {file}: {age:.0f}s old"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m billing_project.observability.heartbeat",
        description="Exit 1 unless the Celery worker's (or beat's) heartbeat file is fresh.",
    )
    parser.add_argument("--beat", action="store_true", help="check beat's heartbeat instead of the worker's")
    parser.add_argument("--file", help="the heartbeat file (default: $CELERY_HEARTBEAT_FILE, '-beat' for beat)")
    parser.add_argument("--max-age", type=float, default=DEFAULT_MAX_AGE, help="age limit in seconds (60)")
    options = parser.parse_args(argv)
    path = Path(options.file) if options.file else (beat_file() if options.beat else worker_file())
    ok, line = check(path, options.max_age, "celery beat heartbeat" if options.beat else "celery heartbeat")
    sys.stdout.write(line + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
