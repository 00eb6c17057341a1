"""Structured logs: JSON lines in production, readable lines in dev, PII masked in both.

structlog renders every record, ours and the standard library's (Django, Celery, gunicorn), so
one JSON line per event carries `timestamp`, `level`, `logger`, `event`, and the bound context:
`request_id` (django-structlog, from the X-Request-ID ApiEdgeMiddleware validated), `tenant`
(the schema the connection works in when the line is written), `task_id` and `task` in Celery
tasks, and the request's `subject` once known. `mask_pii` runs last before rendering, so
emails, phone numbers, card numbers and credentials never reach the output in full.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

import structlog

from apps.core import privacy

# --- Masking ---------------------------------------------------------------------------------
# E-mail addresses and card numbers are found and masked by apps.core.privacy (the one masking
# helper); logs add credentials (bearer tokens, prefixed keys, secret-named fields) and a looser
# phone pattern (with or without "+", 9+ digits) that keeps only the last two digits.
SECRET_KEY_PATTERN = re.compile(r"pass(word)?|secret|token|authorization|api[_-]?key|cookie|signature", re.I)
PHONE = re.compile(r"(?<![\w+-])\+?\d[\d ()-]{7,17}\d(?![\w-])")
BEARER = re.compile(r"(Bearer\s+)\S+", re.I)
PREFIXED_SECRET = re.compile(r"\b(bk|whsec|sk|rk|pk)_[A-Za-z0-9_-]{6,}")
UNMASKED_KEYS = frozenset({"timestamp", "level", "logger", "request_id", "task_id", "parent_task_id", "tenant"})


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    # Dates and times have separators every 2-4 digits but few digits; a phone has 9+ digits.
    if len(re.sub(r"\D", "", text)) < 9 or re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", text):
        return text
    return privacy.mask_phone(text, country_code=False, keep_last=2)


def mask_text(text: str) -> str:
    """`ada@example.com` -> `a***@example.com`; cards keep their last 4 digits, phones their last 2."""
    text = BEARER.sub(r"\1[redacted]", text)
    text = PREFIXED_SECRET.sub(lambda match: match.group(1) + "_[redacted]", text)
    return privacy.mask_text(text, phone_pattern=PHONE, phone=_mask_phone)


def mask_value(key: str, value: Any) -> Any:
    if isinstance(key, str) and SECRET_KEY_PATTERN.search(key) and value not in (None, ""):
        return "[redacted]"
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(key, item) for item in value]
    return value


def mask_pii(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask PII and credentials in every value of the event."""
    for key in list(event_dict):
        if key not in UNMASKED_KEYS and not key.startswith("_"):
            event_dict[key] = mask_value(key, event_dict[key])
    return event_dict


def add_tenant(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The schema the default connection works in as the line is written (request or task alike)."""
    if "tenant" not in event_dict:
        try:
            from django.db import connection

            schema = getattr(connection, "schema_name", None)
        except Exception:
            schema = None
        if schema:
            event_dict["tenant"] = schema
    return event_dict


def bind_request_id(request: Any, logger: Any, **kwargs: Any) -> None:
    """django-structlog `bind_extra_request_metadata` receiver: the request id ApiEdgeMiddleware
    validated and echoes (the caller's X-Request-ID or a fresh one), not one of its own."""
    request_id = getattr(request, "request_id", None)
    if request_id:
        structlog.contextvars.bind_contextvars(request_id=request_id)


def bind_request_subject(request: Any, logger: Any, response: Any = None, **kwargs: Any) -> None:
    """django-structlog `bind_extra_request_finished_metadata` receiver: the API caller, once known."""
    principal = getattr(request, "user", None)
    caller = getattr(principal, "caller", None)
    if caller:
        structlog.contextvars.bind_contextvars(subject=caller, tenant=getattr(principal, "tenant", None))


# --- Configuration ---------------------------------------------------------------------------
def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_tenant,
    ]


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING dict: every record goes through structlog's ProcessorFormatter."""
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    mask_pii,
                    renderer,
                ],
                "foreign_pre_chain": [*_shared_processors(), structlog.stdlib.ExtraAdder()],
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "weasyprint": {"level": "WARNING"},
            "fontTools": {"level": "WARNING"},
        },
    }


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.UnicodeDecoder(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
