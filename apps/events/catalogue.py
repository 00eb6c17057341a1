"""The event catalogue: every event type, its version and the JSON schema of its `data`.

`publish()` refuses a type that is not here and, outside production, checks `data` against
the schema (the required ids; extra fields are always allowed, so a consumer must ignore
fields it does not know). A schema change that removes or renames a field needs a new
version. The catalogue also feeds the OpenAPI `webhooks` section and docs/events.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ID = {"type": "string", "description": "UUID"}
MONEY = {"type": "string", "description": 'Decimal amount as a string, e.g. "25000.00"'}
TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}


@dataclass(frozen=True)
class EventType:
    """One catalogue entry: `data` must match `schema` (JSON Schema, draft 2020-12 subset)."""

    name: str
    description: str
    required: tuple[str, ...]
    properties: dict[str, Any] = field(default_factory=dict)
    version: int = 1

    @property
    def schema(self) -> dict[str, Any]:
        props = dict.fromkeys(self.required, ID) | {
            name: _nullable(spec) for name, spec in self.properties.items() if name not in self.required
        }
        return {
            "title": f"{self.name} v{self.version}",
            "type": "object",
            "required": list(self.required),
            "properties": props,
            "additionalProperties": True,
        }


def _nullable(spec: dict[str, Any]) -> dict[str, Any]:
    """Optional fields may be null (an account without an external id)."""
    wanted = spec.get("type")
    if wanted is None:
        return spec
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    extra = {"enum": [*spec["enum"], None]} if "enum" in spec else {}
    return {**spec, **extra, "type": names if "null" in names else [*names, "null"]}


_ACCOUNT = {"number": TEXT, "external_id": TEXT, "status": TEXT}
_INVOICE = {
    "number": NULLABLE_TEXT,
    "status": TEXT,
    "currency": TEXT,
    "total": MONEY,
    "amount_paid": MONEY,
    "amount_due": MONEY,
    "due_date": NULLABLE_TEXT,
}
_PAYMENT = {
    "status": TEXT,
    "currency": TEXT,
    "amount": MONEY,
    "method": TEXT,
    "reference": TEXT,
    "allocations": {"type": "array", "items": {"type": "object"}},
}
_DUNNING_ACTIONS = [
    "email_reminder",
    "sms_reminder",
    "push_reminder",
    "webhook_notice",
    "retry_payment",
    "escalate",
    "final_notice",
    "suspend_account",
    "write_off",
]
_NOTIFICATION = {"kind": TEXT, "channel": TEXT, "error": NULLABLE_TEXT}


def _entries() -> list[EventType]:
    acc, inv, pay = ("account",), ("invoice", "account"), ("payment", "account")
    return [
        EventType("account.created", "A billing account was opened.", acc, _ACCOUNT),
        EventType("account.updated", "Account details changed; `changed` lists the fields.", acc, _ACCOUNT),
        EventType("account.suspended", "The account was suspended: cut the customer's service.", acc, _ACCOUNT),
        EventType("account.reactivated", "The account is active again: restore service.", acc, _ACCOUNT),
        EventType("account.closed", "The account was closed for good.", acc, _ACCOUNT),
        EventType(
            "account.anonymised",
            "The person behind a closed account was erased (financial records kept): erase your copy too.",
            acc,
            {"number": TEXT, "anonymised_at": TEXT},
        ),
        EventType("invoice.created", "A draft invoice was created.", inv, _INVOICE),
        EventType("invoice.finalized", "The invoice got its number and is now open (owed).", inv, _INVOICE),
        EventType("invoice.sent", "The invoice was sent to the customer.", inv, _INVOICE),
        EventType("invoice.paid", "The invoice is paid in full.", inv, _INVOICE),
        EventType("invoice.partially_paid", "A payment or credit covered part of the invoice.", inv, _INVOICE),
        EventType("invoice.voided", "The invoice was voided; nothing is owed on it.", inv, _INVOICE),
        EventType("invoice.overdue", "The invoice is past its due date and still open.", inv, _INVOICE),
        EventType("invoice.marked_uncollectible", "The invoice was written off as uncollectible.", inv, _INVOICE),
        EventType(
            "credit_note.issued",
            "A credit note reduced an invoice; any remainder is account credit.",
            ("credit_note", "invoice", "account"),
            {"number": TEXT, "currency": TEXT, "amount": MONEY, "applied_to_invoice": MONEY},
        ),
        EventType(
            "payment.succeeded",
            "Money was received and allocated to invoices.",
            pay,
            {**_PAYMENT, "account_balance": MONEY},
        ),
        EventType(
            "payment.failed",
            "A gateway payment attempt failed.",
            pay,
            {**_PAYMENT, "failure_code": TEXT, "failure_message": TEXT},
        ),
        EventType(
            "payment.refunded",
            "Part or all of a payment was refunded.",
            ("payment", "account", "refund"),
            {**_PAYMENT, "refund_amount": MONEY},
        ),
        EventType(
            "payment_method.saved",
            "A card or mandate was saved for the account (gateway token only, never card data).",
            ("payment_method", "account"),
            {"gateway": TEXT, "brand": TEXT, "last4": TEXT, "is_default": {"type": "boolean"}},
        ),
        EventType(
            "dunning.started",
            "A dunning case opened for an account's overdue invoices.",
            ("case", "account", "policy"),
            {"invoices": {"type": "array", "items": ID}, "amount_due": MONEY, "currency": TEXT},
        ),
        EventType(
            "dunning.step_executed",
            "A dunning step ran.",
            ("case", "account", "step"),
            {
                "action": {"type": "string", "enum": _DUNNING_ACTIONS},
                "outcome": {"type": "string", "enum": ["succeeded", "failed", "skipped"]},
                "offset_days": {"type": "integer"},
                "invoice": NULLABLE_TEXT,
            },
        ),
        EventType("dunning.escalated", "A dunning case was escalated.", ("case", "account", "step")),
        EventType("dunning.resolved", "A dunning case closed.", ("case", "account"), {"reason": TEXT}),
        EventType(
            "notification.sent", "A message to the customer was sent.", ("notification", "account"), _NOTIFICATION
        ),
        EventType(
            "notification.failed", "A message to the customer failed.", ("notification", "account"), _NOTIFICATION
        ),
        EventType(
            "webhook_endpoint.disabled",
            "A webhook endpoint was disabled (410 Gone or repeated failure over days).",
            ("endpoint",),
            {"reason": TEXT, "url": TEXT},
        ),
        EventType(
            "webhook_endpoint.ping",
            "A test message sent by the ping/ action; never stored as an event.",
            ("endpoint",),
        ),
    ]


CATALOGUE: dict[str, EventType] = {entry.name: entry for entry in _entries()}
# Types registered at run time (tests); kept apart so docs and OpenAPI show the real catalogue.
_EXTRA: dict[str, EventType] = {}


class UnknownEventType(ValueError):
    """An event type that is not in the catalogue."""


class InvalidEventData(ValueError):
    """Event data that does not match its type's schema."""


def register_event_type(entry: EventType) -> EventType:
    """Add a type outside the catalogue (tests' probe events); idempotent."""
    _EXTRA[entry.name] = entry
    return entry


def event_type(name: str) -> EventType:
    entry = CATALOGUE.get(name) or _EXTRA.get(name)
    if entry is None:
        raise UnknownEventType(f"event type {name!r} is not in the catalogue (apps/events/catalogue.py)")
    return entry


def all_types() -> list[str]:
    return sorted(CATALOGUE)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _matches(value: Any, spec: dict[str, Any]) -> bool:
    wanted = spec.get("type")
    if wanted is not None:
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        if isinstance(value, bool) and "boolean" not in names:
            return False
        if not any(isinstance(value, _JSON_TYPES[name]) for name in names):
            return False
    return "enum" not in spec or value in spec["enum"]


def validate_data(name: str, data: dict[str, Any]) -> None:
    """Check JSON-ready `data` against the type's schema: required ids present, known fields typed."""
    entry = event_type(name)
    schema = entry.schema
    missing = [key for key in schema["required"] if data.get(key) in (None, "")]
    if missing:
        raise InvalidEventData(f"{name} data lacks {', '.join(missing)}")
    for key, spec in schema["properties"].items():
        if key in data and not _matches(data[key], spec):
            raise InvalidEventData(f"{name} data field {key!r} is not {spec.get('type')}: {data[key]!r}")
