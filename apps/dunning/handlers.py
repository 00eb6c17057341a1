"""In-transaction reactions to the ledger's events (apps.events.registry).

Money arriving (a payment, a credit note, a void, an invoice paid by credit) resolves the
account's case inside that same transaction: no step can run after the customer paid.
"""

from __future__ import annotations

import uuid

from apps.dunning.services import case_resolve_if_cleared
from apps.events.models import Event
from apps.events.registry import subscribe

REASONS = {
    "payment.succeeded": "paid",
    "credit_note.issued": "credited",
    "invoice.paid": "paid",
    "invoice.voided": "voided",
}


@subscribe("payment.succeeded")
@subscribe("credit_note.issued")
@subscribe("invoice.paid")
@subscribe("invoice.voided")
def resolve_case_when_cleared(event: Event) -> None:
    try:
        account_id = uuid.UUID(str((event.data or {}).get("account")))
    except ValueError:
        return  # not an account of ours (an event made up by a test or a replay)
    case_resolve_if_cleared(account_id=account_id, reason=REASONS.get(event.type, event.type))
