"""Dunning in the admin: policies (steps inline, timeline preview), assignments, cases with
their timeline, bulk pause/resume, the board and the effectiveness report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.core.admin_support import badge, money_html, money_text, run_bulk_action, small_table
from apps.core.errors import ValidationFailed
from apps.core.tenancy import tenant_today
from apps.dunning.models import (
    OPEN_STATUSES,
    DunningAction,
    DunningAssignment,
    DunningCase,
    DunningMinimum,
    DunningPolicy,
    DunningStep,
)
from apps.dunning.policies import timeline
from apps.dunning.selectors import board_rows, board_totals, effectiveness
from apps.dunning.services import case_pause, case_resume


class DunningStepInline(admin.TabularInline[DunningStep, DunningPolicy]):
    model = DunningStep
    extra = 1
    fields = ["offset_days", "action", "note"]


class DunningMinimumInline(admin.TabularInline[DunningMinimum, DunningPolicy]):
    model = DunningMinimum
    extra = 0
    fields = ["currency", "amount"]
    verbose_name = "minimum overdue amount"
    verbose_name_plural = "minimum overdue amounts (below them dunning does not start)"


@admin.register(DunningPolicy)
class DunningPolicyAdmin(admin.ModelAdmin[DunningPolicy]):
    list_display = ["name", "is_default", "catch_up", "steps_summary"]
    inlines = [DunningStepInline, DunningMinimumInline]
    readonly_fields = ["timeline_preview"]
    fields = ["name", "description", "is_default", "catch_up", "timeline_preview"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DunningPolicy]:
        return super().get_queryset(request).prefetch_related("steps")

    @admin.display(description="steps")
    def steps_summary(self, obj: DunningPolicy) -> str:
        return ", ".join(str(step) for step in obj.steps.all()) or "-"

    @admin.display(description="timeline preview")
    def timeline_preview(self, obj: DunningPolicy) -> SafeString | str:
        if obj.pk is None:
            return "Save the policy to see its timeline."
        due = tenant_today()
        rows = [
            (
                format_html("<strong>{}</strong>", f"{day:%a %d %b %Y}"),
                _offset(step.offset_days),
                str(step.get_action_display()),
            )
            for day, step in timeline(obj, due)
        ]
        intro = format_html("For an invoice due on <strong>{}</strong>, this policy does:", f"{due:%a %d %b %Y}")
        return format_html("<p>{}</p>{}", intro, small_table(rows, ["on", "when", "action"]))


def _offset(days: int) -> str:
    if days == 0:
        return "on the due date"
    return f"{abs(days)} day{'s' if abs(days) != 1 else ''} {'after' if days > 0 else 'before'} the due date"


@admin.register(DunningAssignment)
class DunningAssignmentAdmin(admin.ModelAdmin[DunningAssignment]):
    list_display = ["kind", "target", "policy", "priority"]
    list_filter = ["kind", "policy"]
    raw_id_fields = ["account"]
    list_select_related = ["account", "policy"]

    @admin.display(description="applies to")
    def target(self, obj: DunningAssignment) -> str:
        return str(obj.account or obj.tag or obj.currency)


class DunningActionInline(admin.TabularInline[DunningAction, DunningCase]):
    model = DunningAction
    extra = 0
    can_delete = False
    fields = ["scheduled_for", "run_date", "action", "offset_days", "outcome", "detail", "notification_ids"]
    readonly_fields = ["scheduled_for", "run_date", "action", "offset_days", "outcome", "detail", "notification_ids"]
    ordering = ["scheduled_for", "executed_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReasonActionForm(ActionForm):
    reason = forms.CharField(required=False, max_length=500, help_text="Why (required to pause).")


@admin.register(DunningCase)
class DunningCaseAdmin(admin.ModelAdmin[DunningCase]):
    list_display = ["account", "status_badge", "policy", "anchor_date", "amount", "opened_at", "closed_at"]
    list_filter = ["status", "currency", "policy"]
    search_fields = ["account__number", "account__name", "account__external_id"]
    list_select_related = ["account", "policy"]
    inlines = [DunningActionInline]
    action_form = ReasonActionForm
    actions = ["pause_cases", "resume_cases"]
    readonly_fields = [
        "account",
        "policy",
        "status",
        "anchor_date",
        "currency",
        "amount_at_start",
        "amount_due",
        "amount_recovered",
        "suspended_account",
        "paused_reason",
        "paused_by",
        "paused_at",
        "resolution",
        "opened_at",
        "closed_at",
        "case_timeline",
    ]
    fields = list(readonly_fields)
    change_list_template = "admin/dunning/case_change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_pause_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("dunning.pause_dunningcase"))

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: DunningCase) -> SafeString:
        return badge(obj.status)

    @admin.display(description="amount due", ordering="amount_due")
    def amount(self, obj: DunningCase) -> SafeString:
        return money_html(obj.amount_due, obj.currency)

    @admin.display(description="timeline")
    def case_timeline(self, obj: DunningCase) -> SafeString:
        """What was done, then what the policy will do next if nothing is paid."""
        done = {a.step_id: a for a in obj.actions.all()}
        rows = []
        for day, step in timeline(obj.policy, obj.anchor_date):
            action = done.get(step.pk)
            if action is not None:
                state = badge(action.outcome)
                note = action.detail
            elif obj.status in OPEN_STATUSES:
                state, note = badge("pending", "planned"), ""
            else:
                state, note = badge("closed", "not run"), ""
            rows.append((f"{day:%d %b %Y}", str(step), state, note))
        return small_table(rows, ["day", "step", "outcome", "detail"])

    @admin.action(description="Pause the selected cases (give a reason)", permissions=["pause"])
    def pause_cases(self, request: HttpRequest, queryset: QuerySet[DunningCase]) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Give a reason to pause the cases; nothing was done.", level="error")
            return
        run_bulk_action(
            self,
            request,
            queryset.select_related("account"),
            verb="paused",
            action=lambda case: case_pause(case=case, reason=reason, actor=request.user),
        )

    @admin.action(description="Resume the selected cases", permissions=["pause"])
    def resume_cases(self, request: HttpRequest, queryset: QuerySet[DunningCase]) -> None:
        reason = request.POST.get("reason", "").strip()
        run_bulk_action(
            self,
            request,
            queryset.select_related("account"),
            verb="resumed",
            action=lambda case: case_resume(case=case, reason=reason, actor=request.user),
        )

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("board/", self.admin_site.admin_view(self.board_view), name="dunning_board"),
            path("effectiveness/", self.admin_site.admin_view(self.effectiveness_view), name="dunning_effectiveness"),
        ]
        return own + super().get_urls()

    def _require_view(self, request: HttpRequest) -> None:
        if not request.user.has_perm("dunning.view_dunningcase"):
            raise PermissionDenied

    def board_view(self, request: HttpRequest) -> TemplateResponse:
        """Open cases by stage, with counts and amounts per currency; all statuses below."""
        self._require_view(request)
        changelist = reverse("admin:dunning_dunningcase_changelist")
        rows = [
            {
                "row": row,
                "amount": money_text(row.amount_due, row.currency),
                "url": f"{changelist}?status__exact={row.status}&currency={row.currency}",
            }
            for row in board_rows()
        ]
        totals = [
            {
                **row,
                "amount_text": money_text(row["amount_due"] or Decimal(0), row["currency"]),
                "recovered_text": money_text(row["recovered"] or Decimal(0), row["currency"]),
            }
            for row in board_totals()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Dunning board",
            "opts": self.model._meta,
            "rows": rows,
            "totals": totals,
        }
        return TemplateResponse(request, "admin/dunning/board.html", context)

    def effectiveness_view(self, request: HttpRequest) -> TemplateResponse:
        """Amount recovered per policy and step over a period (default: the last 30 days)."""
        self._require_view(request)
        today = tenant_today()
        error = ""
        try:
            since = _date(request.GET.get("since"), today - dt.timedelta(days=30))
            until = _date(request.GET.get("until"), today)
        except ValidationFailed as exc:
            error, since, until = exc.message, today - dt.timedelta(days=30), today
        rows = [
            {"row": row, "recovered": money_text(row.recovered, row.currency)}
            for row in effectiveness(since=since, until=until)
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Dunning effectiveness",
            "opts": self.model._meta,
            "rows": rows,
            "since": since,
            "until": until,
            "error": error,
        }
        return TemplateResponse(request, "admin/dunning/effectiveness.html", context)


def _date(value: str | None, default: dt.date) -> dt.date:
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"{value!r} is not a date (YYYY-MM-DD)") from exc
