"""One schema's backup and restore with PostgreSQL's own tools.

`pg_dump -Fc -n <schema>` holds only that schema (no extensions, nothing of `public`), which is
what a tenant is. `pg_dump` must be at least the server's version, and this project meets two
servers: the machine's PostgreSQL (15 here, client in /usr/lib/postgresql/15/bin) and pgserver's
embedded 16 (its clients in `pgserver/pginstall/bin`). We ask the server its version and pick
the closest client that is not older; `PG_BIN_DIR` overrides the search.

A restore never leaves a tenant without a schema: the broken schema is renamed aside, the dump is
restored in one transaction (it recreates the schema), and only then is the old one dropped. If
the restore fails, the renamed schema is put back.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection

RUN_DIR_PATTERN = re.compile(r"^\d{8}T\d{6}Z-run\d+$")


class BackupError(RuntimeError):
    """pg_dump / pg_restore failed, or no suitable client exists."""


@dataclass(frozen=True)
class PgTools:
    bin_dir: Path
    major_version: int

    @property
    def pg_dump(self) -> str:
        return str(self.bin_dir / "pg_dump")

    @property
    def pg_restore(self) -> str:
        return str(self.bin_dir / "pg_restore")


def server_major_version() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        (number,) = cursor.fetchone()
    return int(number) // 10000


def _candidate_dirs() -> list[Path]:
    explicit = os.environ.get("PG_BIN_DIR") or getattr(settings, "PG_BIN_DIR", "")
    if explicit:
        return [Path(explicit)]
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    spec = find_spec("pgserver")
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    return candidates


def _client_major(pg_dump: Path) -> int | None:
    try:
        output = subprocess.run(  # noqa: S603 - a PostgreSQL client binary we located, no shell
            [str(pg_dump), "--version"], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\) (\d+)", output.stdout)
    return int(match.group(1)) if match else None


@cache
def find_pg_tools(server_major: int) -> PgTools:
    """The closest pg_dump/pg_restore pair whose version is >= the server's."""
    found: list[PgTools] = []
    for directory in _candidate_dirs():
        if (directory / "pg_dump").is_file() and (directory / "pg_restore").is_file():
            major = _client_major(directory / "pg_dump")
            if major is not None and major >= server_major:
                found.append(PgTools(directory, major))
    if not found:
        raise BackupError(
            f"no pg_dump >= {server_major} found (looked in {', '.join(map(str, _candidate_dirs())) or 'nothing'}); "
            "install the PostgreSQL client or set PG_BIN_DIR"
        )
    return min(found, key=lambda tools: tools.major_version)


def pg_tools() -> PgTools:
    return find_pg_tools(server_major_version())


def libpq_environment() -> dict[str, str]:
    """Environment for pg_dump / pg_restore to reach the database Django uses (password not on argv)."""
    db = connection.settings_dict
    environment = dict(os.environ)
    host = (db.get("OPTIONS") or {}).get("host") or db.get("HOST") or ""
    values = {
        "PGHOST": host,
        "PGPORT": str(db.get("PORT") or ""),
        "PGUSER": db.get("USER") or "",
        "PGPASSWORD": db.get("PASSWORD") or "",
        "PGDATABASE": db["NAME"],
    }
    environment.update({key: value for key, value in values.items() if value})
    return environment


def _run(command: list[str], what: str) -> None:
    completed = subprocess.run(  # noqa: S603 - pg_dump/pg_restore with our own arguments, no shell
        command, env=libpq_environment(), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {detail[-1] if detail else f'exit {completed.returncode}'}")


def dump_schema(schema: str, path: Path, *, lock_wait_timeout_ms: int) -> Path:
    """`pg_dump -Fc -n schema` into `path`; fails rather than waits past `lock_wait_timeout_ms`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)  # tenants' data: readable by the deploy user only
    partial = path.with_suffix(".partial")
    _run(
        [
            pg_tools().pg_dump,
            "--format=custom",
            f'--schema="{schema}"',
            f"--lock-wait-timeout={lock_wait_timeout_ms}",
            "--no-password",
            f"--file={partial}",
        ],
        f"pg_dump of {schema}",
    )
    partial.replace(path)
    return path


def restore_schema(schema: str, path: Path) -> str:
    """Replace `schema` with the dump at `path`, never leaving it absent if the restore fails.

    Returns a note for the operator when the old copy could not be dropped afterwards.
    """
    if not path.is_file():
        raise BackupError(f"backup {path} does not exist (removed by retention?)")
    quote = connection.ops.quote_name
    aside = f"{schema[:40]}__restore_{int(time.time())}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        present = cursor.fetchone() is not None
        if present:
            cursor.execute(f"ALTER SCHEMA {quote(schema)} RENAME TO {quote(aside)}")
    try:
        _run(
            [
                pg_tools().pg_restore,
                "--single-transaction",
                "--exit-on-error",
                "--no-password",
                f"--dbname={connection.settings_dict['NAME']}",
                str(path),
            ],
            f"pg_restore of {schema}",
        )
    except BackupError:
        if present:
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER SCHEMA {quote(aside)} RENAME TO {quote(schema)}")
        raise
    if present:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP SCHEMA {quote(aside)} CASCADE")
        except DatabaseError as exc:  # e.g. a lock timeout: the restore itself is done
            return f"restored; the broken copy {aside} is left to drop by hand ({exc})"
    return ""


def run_directory(backup_dir: Path, started_at_compact: str, run_id: int) -> Path:
    return backup_dir / f"{started_at_compact}-run{run_id}"


def prune_backups(backup_dir: Path, *, keep: int) -> list[Path]:
    """Delete all but the `keep` newest run directories this command made; return what was deleted."""
    if keep < 1 or not backup_dir.is_dir():
        return []
    runs = sorted(path for path in backup_dir.iterdir() if path.is_dir() and RUN_DIR_PATTERN.match(path.name))
    doomed = runs[:-keep]
    for path in doomed:
        shutil.rmtree(path)
    return doomed
