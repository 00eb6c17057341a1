"""In-transaction reactions of payments to lower apps' events (see apps.events.registry)."""

from __future__ import annotations

from apps.accounts.models import BillingSettings
from apps.accounts.services import account_lock
from apps.events.models import Event
from apps.events.registry import subscribe
from apps.invoices.models import Invoice


@subscribe("invoice.finalized")
def apply_payment_credit_to_finalized_invoice(event: Event) -> None:
    """A newly finalized invoice takes the account's unused payment money first."""
    if not BillingSettings.load().auto_apply_credit:
        return
    from apps.payments.services import credit_apply

    account = account_lock(event.data["account"])
    invoice = Invoice.objects.select_for_update().get(pk=event.data["invoice"])
    if invoice.amount_due > 0:
        credit_apply(account=account, invoices=[invoice])
