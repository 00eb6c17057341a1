"""prometheus_client multiprocess bookkeeping, importable before Django is set up.

Layout: `METRICS_MULTIPROC_ROOT/<role>/` per process type (web, worker). Each role's start
command wipes only its own directory and exports it as `PROMETHEUS_MULTIPROC_DIR` before Python
starts (read at import time); /metrics merges the files of every role under the root, so web
and worker can start in any order without one wiping the other's counts (OPS-NOTES A.4).
Without a root, `PROMETHEUS_MULTIPROC_DIR` alone is one shared directory, wiped once before
everything starts (devenv, tests).

    python -m billing_project.observability.multiproc web -- gunicorn billing_project.wsgi ...
"""

from __future__ import annotations

import glob
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

LIVE_FILE = re.compile(r"^gauge_live\w*?_(\d+)\.db$")
DEFAULT_ROOT = "/tmp/billing-metrics"  # noqa: S108 - tmpfs in containers; overridable


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def metric_directories() -> list[str]:
    """Every directory whose files make up the deployment's values (this role's and siblings')."""
    root = os.environ.get("METRICS_MULTIPROC_ROOT", "")
    own = multiprocess_dir()
    directories = (
        sorted(str(path) for path in Path(root).iterdir() if path.is_dir()) if root and Path(root).is_dir() else []
    )
    if own and own not in directories:
        directories.append(own)
    return directories


def wipe_multiprocess_dir(path: str | os.PathLike[str]) -> None:
    """Empty the directory before its processes start (never while they run: counts would drop)."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.glob("*.db"):
        entry.unlink(missing_ok=True)


def mark_process_dead(pid: int) -> None:
    """Drop a dead process' live gauges; its counters stay (deleting them would make counters
    go backwards, client_python#411)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_dead_processes() -> list[int]:
    """Mark processes that died without a hook (kill -9 of a Celery child) dead.

    Valid because a directory is shared only within one PID namespace (one host or pod): a PID
    named by a live-gauge file and absent here is a dead writer.
    """
    dead: set[int] = set()
    for directory in metric_directories():
        for name in os.listdir(directory):
            match = LIVE_FILE.match(name)
            if match and not _pid_alive(int(match.group(1))):
                dead.add(int(match.group(1)))
                multiprocess.mark_process_dead(int(match.group(1)), directory)
    return sorted(dead)


class MergedMultiProcessCollector(Collector):
    """MultiProcessCollector over the files of every role directory."""

    def collect(self) -> Iterator[Metric]:
        files: list[str] = []
        for directory in metric_directories():
            files.extend(glob.glob(os.path.join(directory, "*.db")))
        return iter(multiprocess.MultiProcessCollector.merge(files, accumulate=True))


def main(argv: list[str]) -> int:
    """`multiproc ROLE -- command...`: export this role's directory, wipe it, exec the command."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m billing_project.observability.multiproc ROLE -- command ...", file=sys.stderr)  # noqa: T201
        return 2
    role, command = argv[0], argv[2:]
    root = os.environ.setdefault("METRICS_MULTIPROC_ROOT", DEFAULT_ROOT)
    directory = os.path.join(root, role)
    wipe_multiprocess_dir(directory)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    os.execvp(command[0], command)  # noqa: S606
    return 0  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
