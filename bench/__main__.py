"""`python -m bench` (or `make bench`): run every benchmark module in turn."""

from __future__ import annotations

import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

SKIP = {"report", "__main__", "api_site"}  # api_site: the server bench.api_load runs


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name not in SKIP)
    failed = []
    for name in names:
        module = importlib.util.find_spec(f"bench.{name}")
        if module is None:
            continue
        print(f"== bench.{name}", flush=True)
        # One process per benchmark: each sets up Django against its own scratch database.
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
