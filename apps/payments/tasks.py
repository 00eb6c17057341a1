"""Thin Celery wrappers around the payments services (tenant-bound: they run in the enqueuing tenant)."""

from __future__ import annotations

from celery import shared_task

from apps.accounts.models import Account
from apps.core.tasks import TenantBoundTask
from apps.invoices.models import Invoice
from apps.payments.charges import payment_charge_saved_method
from apps.payments.gateways import GatewayUnavailable


@shared_task(
    base=TenantBoundTask,
    name="apps.payments.charge_saved_method",
    autoretry_for=(GatewayUnavailable,),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=6,
)
def charge_saved_method(account_id: str, invoice_id: str | None = None, amount: str | None = None) -> dict[str, str]:
    """Charge the account's saved method (dunning's "retry payment"). Safe to run twice: an
    unknown outcome leaves the attempt pending and the retry replays the same idempotency key."""
    account = Account.objects.get(pk=account_id)
    invoice = Invoice.objects.get(pk=invoice_id, account=account) if invoice_id else None
    attempt = payment_charge_saved_method(account=account, invoice=invoice, amount=amount, actor=None)
    return {
        "charge": str(attempt.id),
        "status": attempt.status,
        "payment": str(attempt.payment_id or ""),
        "failure_code": attempt.failure_code,
    }
