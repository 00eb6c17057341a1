"""Reads for the admin: the dunning board and the effectiveness report, aggregated in SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum

from apps.dunning.models import OPEN_STATUSES, CaseStatus, DunningAction, DunningCase, DunningPolicy, DunningStep


@dataclass(frozen=True)
class BoardRow:
    stage: str
    status: str
    currency: str
    cases: int
    amount_due: Decimal


def _last_step() -> Subquery:
    latest = DunningAction.objects.filter(case=OuterRef("pk")).exclude(outcome="pending").order_by("-scheduled_for")
    return Subquery(latest.values("step_id")[:1])


def board_rows() -> list[BoardRow]:
    """Open cases by stage (the last step taken) and status, with counts and amounts per currency."""
    steps = {s.pk: str(s) for s in DunningStep.objects.all()}
    rows = (
        DunningCase.objects.filter(status__in=OPEN_STATUSES)
        .annotate(stage=_last_step())
        .values("stage", "status", "currency")
        .annotate(cases=Count("pk"), amount=Sum("amount_due"))
        .order_by("currency", "status", "stage")
    )
    return [
        BoardRow(
            stage=steps.get(row["stage"], "no step yet"),
            status=row["status"],
            currency=row["currency"],
            cases=row["cases"],
            amount_due=row["amount"] or Decimal(0),
        )
        for row in rows
    ]


def board_totals() -> list[dict[str, Any]]:
    """Every status (open and closed) per currency: counts and amounts."""
    return [
        dict(row)
        for row in DunningCase.objects.values("status", "currency")
        .annotate(cases=Count("pk"), amount_due=Sum("amount_due"), recovered=Sum("amount_recovered"))
        .order_by("currency", "status")
    ]


@dataclass(frozen=True)
class EffectivenessRow:
    policy: str
    step: str
    currency: str
    resolved: int
    recovered: Decimal
    reached: int


def effectiveness(*, since: dt.date, until: dt.date) -> list[EffectivenessRow]:
    """Amount recovered per policy and per step (the last step before payment) for cases resolved in the period,
    beside how many cases reached that step in the period."""
    policies = {p.pk: p.name for p in DunningPolicy.objects.all()}
    steps = {s.pk: str(s) for s in DunningStep.objects.all()}
    resolved: QuerySet[Any] = (
        DunningCase.objects.filter(status=CaseStatus.RESOLVED, closed_at__date__gte=since, closed_at__date__lte=until)
        .annotate(stage=_last_step())
        .values("policy_id", "stage", "currency")
        .annotate(resolved=Count("pk"), recovered=Sum("amount_recovered"))
    )
    reached = {
        (row["step__policy_id"], row["step_id"], row["case__currency"]): row["n"]
        for row in DunningAction.objects.filter(run_date__gte=since, run_date__lte=until)
        .exclude(outcome="skipped", detail__startswith="missed")
        .values("step__policy_id", "step_id", "case__currency")
        .annotate(n=Count("pk"))
    }
    rows = [
        EffectivenessRow(
            policy=policies.get(row["policy_id"], "?"),
            step=steps.get(row["stage"], "before any step"),
            currency=row["currency"],
            resolved=row["resolved"],
            recovered=row["recovered"] or Decimal(0),
            reached=reached.get((row["policy_id"], row["stage"], row["currency"]), 0),
        )
        for row in resolved
    ]
    return sorted(rows, key=lambda r: (r.policy, r.currency, r.step))


__all__ = ["BoardRow", "EffectivenessRow", "board_rows", "board_totals", "effectiveness"]
