"""`dunning/cases/`: list (filter by account), retrieve with actions, pause and resume."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from apps.dunning.models import DunningCase
from tests.api.conftest import JsonClient, assert_problem
from tests.dunning.helpers import overdue_account, run_inline

pytestmark = pytest.mark.django_db

CASES = "/api/v1/dunning/cases/"
DUE = dt.date(2026, 3, 2)


def two_cases() -> tuple[str, str]:
    with schema_context("alpha"):
        first, _ = overdue_account(DUE)
        second, _ = overdue_account(DUE)
        run_inline(DUE + dt.timedelta(days=1))
        return str(first.pk), str(second.pk)


def test_cases_list_filters_by_account_and_shows_the_actions(reader: JsonClient) -> None:
    first, second = two_cases()
    body = reader.get(CASES, data={"account": first}).json()
    [case] = body["results"]
    assert case["account"] == first
    assert case["status"] == "active"
    assert case["amount_due"] == "25000.00"
    assert case["anchor_date"] == "2026-03-02"
    assert [(a["action"], a["offset_days"], a["outcome"]) for a in case["actions"]] == [
        ("email_reminder", 1, "succeeded")
    ]
    assert set(case["actions"][0]) >= {"step", "action", "executed_at", "outcome"}
    assert body["next"] is None
    assert {c["account"] for c in reader.get(CASES).json()["results"]} >= {first, second}
    detail = reader.get(f"{CASES}{case['id']}/").json()
    assert detail["id"] == case["id"]


def test_pause_and_resume_through_the_api(writer: JsonClient) -> None:
    first, _ = two_cases()
    with schema_context("alpha"):
        case_id = str(DunningCase.objects.get(account_id=first).pk)
    paused = writer.post(f"{CASES}{case_id}/pause/", {"reason": "invoice disputed"})
    assert paused.status_code == 200, paused.content
    assert paused.json()["status"] == "paused"
    assert paused.json()["paused_reason"] == "invoice disputed"
    resumed = writer.post(f"{CASES}{case_id}/resume/", {})
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "active"
    again = writer.post(f"{CASES}{case_id}/resume/", {})
    assert_problem(again, 409, type_slug="invalid-transition", detail_contains="only a paused case")


def test_pausing_needs_a_reason_and_the_write_role(writer: JsonClient, reader: JsonClient) -> None:
    first, _ = two_cases()
    with schema_context("alpha"):
        case_id = str(DunningCase.objects.get(account_id=first).pk)
    assert_problem(writer.post(f"{CASES}{case_id}/pause/", {}), 400, type_slug="validation-error")
    assert reader.post(f"{CASES}{case_id}/pause/", {"reason": "x"}).status_code == 403


def test_another_tenants_case_is_not_found(outsider: JsonClient) -> None:
    first, _ = two_cases()
    with schema_context("alpha"):
        case_id = str(DunningCase.objects.get(account_id=first).pk)
    assert outsider.get(f"{CASES}{case_id}/").status_code == 404
    assert outsider.get(CASES, data={"account": first}).json()["results"] == []
