"""The dunning admin: policy timeline preview, case timeline, bulk pause/resume, board, effectiveness."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse

from apps.dunning.models import CaseStatus, DunningCase, DunningPolicy
from apps.payments.services import payment_record
from apps.tenants.models import Tenant
from tests.dunning.helpers import overdue_account, run_inline

DUE = dt.date(2026, 3, 2)


def test_the_policy_page_previews_its_timeline(in_tenant_a: Tenant, manager: Any, login_a: Any) -> None:
    policy = DunningPolicy.objects.get(is_default=True)
    page = login_a(manager).get(reverse("admin:dunning_dunningpolicy_change", args=[policy.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "this policy does" in html
    for text in ("1 day after the due date", "7 days after the due date", "Suspend the account", "Write off"):
        assert text in html


def test_the_policy_steps_are_edited_inline(in_tenant_a: Tenant, manager: Any, login_a: Any) -> None:
    client = login_a(manager)
    response = client.post(
        reverse("admin:dunning_dunningpolicy_add"),
        {
            "name": "Gentle",
            "description": "",
            "catch_up": "latest",
            "steps-TOTAL_FORMS": "2",
            "steps-INITIAL_FORMS": "0",
            "steps-0-offset_days": "-3",
            "steps-0-action": "email_reminder",
            "steps-1-offset_days": "10",
            "steps-1-action": "final_notice",
            "minimums-TOTAL_FORMS": "1",
            "minimums-INITIAL_FORMS": "0",
            "minimums-0-currency": "NGN",
            "minimums-0-amount": "500.00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = DunningPolicy.objects.get(name="Gentle")
    assert [(s.offset_days, s.action) for s in policy.steps.all()] == [(-3, "email_reminder"), (10, "final_notice")]
    assert [(m.currency, str(m.amount)) for m in policy.minimums.all()] == [("NGN", "500.0000")]


def test_bulk_pause_reports_each_case_and_needs_a_reason(in_tenant_a: Tenant, manager: Any, login_a: Any) -> None:
    first, _ = overdue_account(DUE)
    second, _ = overdue_account(DUE)
    run_inline(DUE + dt.timedelta(days=1))
    cases = list(DunningCase.objects.filter(account__in=[first, second]))
    DunningCase.objects.filter(pk=cases[1].pk).update(status=CaseStatus.RESOLVED)
    client = login_a(manager)
    url = reverse("admin:dunning_dunningcase_changelist")
    selection = [str(c.pk) for c in cases]
    page = client.post(url, {"action": "pause_cases", "_selected_action": selection, "reason": ""}, follow=True)
    assert "Give a reason" in page.content.decode()
    assert DunningCase.objects.filter(status=CaseStatus.PAUSED).count() == 0
    page = client.post(url, {"action": "pause_cases", "_selected_action": selection, "reason": "disputed"}, follow=True)
    text = page.content.decode()
    assert "1 paused, 1 refused." in text
    assert "a resolved case cannot be paused" in text
    assert DunningCase.objects.get(pk=cases[0].pk).status == CaseStatus.PAUSED
    page = client.post(url, {"action": "resume_cases", "_selected_action": [str(cases[0].pk)]}, follow=True)
    assert DunningCase.objects.get(pk=cases[0].pk).status == CaseStatus.ACTIVE


def test_the_case_page_shows_done_and_planned_steps(in_tenant_a: Tenant, auditor: Any, login_a: Any) -> None:
    account, _ = overdue_account(DUE)
    run_inline(DUE + dt.timedelta(days=1))
    case = DunningCase.objects.get(account=account)
    page = login_a(auditor).get(reverse("admin:dunning_dunningcase_change", args=[case.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "03 Mar 2026" in html and "planned" in html and "16 Mar 2026" in html


def test_the_board_and_the_effectiveness_report(in_tenant_a: Tenant, auditor: Any, login_a: Any) -> None:
    paying, _ = overdue_account(DUE)
    _owing, _ = overdue_account(DUE, amount="1000.00")
    run_inline(DUE + dt.timedelta(days=1))
    payment_record(account=paying, amount="25000.00", currency="NGN", method="bank_transfer")
    client = login_a(auditor)
    board = client.get(reverse("admin:dunning_board")).content.decode()
    assert "D+1 Email reminder" in board
    assert "resolved" in board
    today = DunningCase.objects.get(account=paying).closed_at.date()  # type: ignore[union-attr]
    report = client.get(
        reverse("admin:dunning_effectiveness"), {"since": today.isoformat(), "until": today.isoformat()}
    ).content.decode()
    assert "Standard" in report and "D+1 Email reminder" in report
    assert "25,000.00" in report
    bad = client.get(reverse("admin:dunning_effectiveness"), {"since": "yesterday"})
    assert "is not a date" in bad.content.decode()


def test_staff_without_a_dunning_role_cannot_see_the_board(in_tenant_a: Tenant, roleless: Any, login_a: Any) -> None:
    assert login_a(roleless).get(reverse("admin:dunning_board")).status_code == 403


def test_the_finance_roles_get_their_dunning_permissions(in_tenant_a: Tenant) -> None:
    from django.contrib.auth.models import Group

    from apps.dunning.roles import ROLE_PERMISSIONS

    for name, codenames in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=name)
        assert set(
            group.permissions.filter(content_type__app_label="dunning").values_list("codename", flat=True)
        ) == set(codenames)
