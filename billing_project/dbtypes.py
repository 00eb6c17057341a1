"""Timestamps read with psycopg's compiled loader.

Django (5.2) registers its own `timestamptz` loader on every psycopg 3 connection, derived from
psycopg's pure-Python one (to stamp its time zone on the result), so with psycopg-binary every
timestamp still parses in Python: a fifth of an invoice page's CPU, 250 timestamps a page
(Django ticket #36960, psycopg #1273). When Django's time zone and the session's are both UTC,
as this project runs, the compiled loader returns the very same value (an aware datetime in
`datetime.timezone.utc`), so each new connection's loader hands the parsing to it; any other
set-up keeps Django's own.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

TIMESTAMPTZ = "timestamptz"


def use_compiled_timestamptz_loader(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver (PostgreSQL with psycopg 3 and psycopg-binary only)."""
    if connection.vendor != "postgresql" or connection.timezone is not dt.UTC:
        return
    raw = connection.connection
    adapters = getattr(raw, "adapters", None)  # psycopg 3's per-connection map (psycopg2 has none)
    loader = utc_timestamptz_loader()
    if adapters is not None and loader is not None and raw.info.parameter_status("TimeZone") == "UTC":
        adapters.register_loader(TIMESTAMPTZ, loader)


@functools.cache
def utc_timestamptz_loader() -> type | None:
    """A loader for UTC sessions parsing with the compiled loader; None without psycopg-binary."""
    import psycopg
    from psycopg.postgres import types
    from psycopg.pq import Format
    from psycopg.types.datetime import TimestamptzLoader

    compiled: Any = psycopg.adapters.get_loader(types[TIMESTAMPTZ].oid, Format.TEXT)
    if compiled is None or not compiled.__module__.startswith("psycopg_binary"):
        return None  # psycopg's pure-Python implementation: nothing to gain

    class UtcTimestamptzLoader(TimestamptzLoader):
        # Django's create_cursor compares this with the connection's time zone and registers its
        # own loader on any cursor where they differ.
        timezone = dt.UTC

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self.load = compiled(oid, context).load  # type: ignore[method-assign]

    return UtcTimestamptzLoader
