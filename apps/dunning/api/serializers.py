"""Shapes of `dunning/cases/` (ARCHITECTURE.md §6: `{"id", "account", "status", "actions": [...]}`)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api.fields import MoneyField
from apps.dunning.models import DunningAction, DunningCase

CASE_EXAMPLE: dict[str, Any] = {
    "id": "0f4a3c2e-9b1d-4e8f-a6c5-2d7b8e9f0a1b",
    "account": "5b0e7c1e-2f4b-4f0e-9d4a-1c2b3d4e5f60",
    "policy": "7d9e0f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
    "status": "active",
    "anchor_date": "2026-03-02",
    "currency": "NGN",
    "amount_due": "25000.00",
    "amount_recovered": "0.00",
    "suspended_account": False,
    "paused_reason": "",
    "resolution": "",
    "opened_at": "2026-03-03T00:05:00Z",
    "closed_at": None,
    "actions": [
        {
            "step": "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d",
            "action": "email_reminder",
            "offset_days": 1,
            "scheduled_for": "2026-03-03",
            "executed_at": "2026-03-03T00:05:01Z",
            "outcome": "succeeded",
            "detail": "",
            "invoice": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "notifications": ["3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"],
        }
    ],
}


class ActionOutput(serializers.ModelSerializer[DunningAction]):
    notifications = serializers.ListField(source="notification_ids", child=serializers.CharField())

    class Meta:
        model = DunningAction
        fields = [
            "step",
            "action",
            "offset_days",
            "scheduled_for",
            "executed_at",
            "outcome",
            "detail",
            "invoice",
            "notifications",
        ]
        read_only_fields = fields


class CaseOutput(serializers.ModelSerializer[DunningCase]):
    amount_due = MoneyField()
    amount_recovered = MoneyField()
    actions = ActionOutput(many=True, read_only=True)

    class Meta:
        model = DunningCase
        fields = list(CASE_EXAMPLE)
        read_only_fields = fields


class PauseInput(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(max_length=500, help_text="Why the case stops (e.g. the invoice is disputed).")


class ResumeInput(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
