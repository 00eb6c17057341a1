"""SQL statement count and duration, through Django's execute wrappers.

Installed on every new connection (`connection_created`), so it sees every statement of the
ORM and raw cursors on every alias. Chosen over django-prometheus' backend: that needs the
`ENGINE` slot django-tenants holds (only reachable through `ORIGINAL_BACKEND`, OPS-NOTES
A.9), names its metrics `django_db_*` and exports per-process migration gauges; this wrapper
gives `billing_db_*` names and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from apps.core.metrics import DB_QUERIES, DB_QUERY_DURATION


class QueryMetrics:
    """An execute wrapper: time the statement, count it by alias and outcome."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.duration = DB_QUERY_DURATION.labels(alias=alias)
        self.ok = DB_QUERIES.labels(alias=alias, outcome="ok")
        self.error = DB_QUERIES.labels(alias=alias, outcome="error")

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            result = execute(sql, params, many, context)
        except Exception:
            self.error.inc()
            raise
        finally:
            self.duration.observe(time.perf_counter() - started)
        self.ok.inc()
        return result


def install_query_metrics(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver: add the wrapper once per connection object."""
    if not any(isinstance(wrapper, QueryMetrics) for wrapper in connection.execute_wrappers):
        # First in the list: `connection.execute_wrapper()` blocks pop the last one on exit.
        connection.execute_wrappers.insert(0, QueryMetrics(connection.alias))
