"""`retry_payment`: charge the account's saved method after the chunk commits.

The payments service must be called outside a transaction (its attempt row is committed
before the gateway is called). The action was committed as `pending`; here it is settled:
- an attempt made for this action already (a worker died after charging) is reused, never
  charged again; an attempt still in flight is finished with its own idempotency key;
- a gateway whose outcome is unknown leaves the action pending for the next run.
A successful charge records a payment whose `payment.succeeded` resolves the case in the
payment's own transaction (apps.dunning.handlers).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.errors import DomainError
from apps.dunning.engine import step_event_data
from apps.dunning.models import DunningAction, DunningCase, Outcome
from apps.dunning.services import case_lock
from apps.events.services import publish
from apps.payments.charges import payment_charge_saved_method
from apps.payments.gateways import GatewayError, GatewayUnavailable
from apps.payments.models import ChargeAttempt, ChargeStatus

logger = logging.getLogger(__name__)

CLAIM_TTL = dt.timedelta(minutes=10)


def pending_charges_for(account_ids: list[Any]) -> list[str]:
    """Retry actions left pending by an earlier run (a worker killed between commit and charge)."""
    return [
        str(pk)
        for pk in DunningAction.objects.filter(case__account_id__in=account_ids, outcome=Outcome.PENDING).values_list(
            "pk", flat=True
        )
    ]


def dunning_charge_settle(*, action_id: Any) -> str:
    """Charge (at most once) for a pending retry_payment action and record its outcome."""
    # Claim the action (a conditional UPDATE): two overlapping runs never charge for it both.
    # A claim older than CLAIM_TTL is from a worker that died; it may be taken over.
    now = timezone.now()
    claimed = (
        DunningAction.objects.filter(pk=action_id, outcome=Outcome.PENDING)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TTL))
        .update(claimed_at=now)
    )
    action = DunningAction.objects.select_related("case__account").get(pk=action_id)
    if not claimed:
        return str(action.outcome)
    case = action.case
    attempt = (
        ChargeAttempt.objects.filter(account_id=case.account_id, created_at__gte=action.executed_at)
        .order_by("created_at")
        .first()
    )
    outcome, detail = Outcome.PENDING, ""
    if attempt is None or attempt.status == ChargeStatus.PENDING:
        try:
            attempt = payment_charge_saved_method(account=case.account, amount=None)
        except GatewayUnavailable as exc:
            logger.warning("dunning retry_payment for case %s: gateway unavailable (%s)", case.pk, exc)
            DunningAction.objects.filter(pk=action.pk).update(claimed_at=None)
            return str(Outcome.PENDING)
        except DomainError as exc:
            outcome = Outcome.SKIPPED if exc.code == "nothing_due" else Outcome.FAILED
            detail = exc.message
        except GatewayError as exc:
            outcome, detail = Outcome.FAILED, exc.message
    if attempt is not None and outcome == Outcome.PENDING:
        if attempt.status == ChargeStatus.SUCCEEDED:
            outcome, detail = Outcome.SUCCEEDED, "charged"
        elif attempt.status == ChargeStatus.FAILED:
            outcome, detail = Outcome.FAILED, attempt.failure_message or attempt.failure_code or "declined"
        else:
            DunningAction.objects.filter(pk=action.pk).update(claimed_at=None)
            return str(Outcome.PENDING)
    return _record(action.pk, case, outcome, detail, attempt)


def _record(action_id: Any, case: DunningCase, outcome: str, detail: str, attempt: ChargeAttempt | None) -> str:
    with transaction.atomic():
        locked_case = case_lock(case.pk)
        action = DunningAction.objects.select_for_update().get(pk=action_id)
        if action.outcome != Outcome.PENDING:
            return str(action.outcome)  # a concurrent settle got there first
        action.outcome = outcome
        action.detail = detail[:500]
        if attempt is not None:
            action.charge_attempt_id = attempt.pk
            action.payment_id = attempt.payment_id
        action.save(update_fields=["outcome", "detail", "charge_attempt_id", "payment_id"])
        publish("dunning.step_executed", str(locked_case.pk), step_event_data(locked_case, action))
    return outcome
