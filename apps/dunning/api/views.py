"""`dunning/cases/`: read cases with their actions; pause and resume (thin views over the services)."""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api.permissions import request_principal
from apps.core.api.views import ResourceViewSet
from apps.dunning.api.serializers import CASE_EXAMPLE, CaseOutput, PauseInput, ResumeInput
from apps.dunning.models import CaseStatus, DunningAction, DunningCase
from apps.dunning.services import case_pause, case_resume

EXAMPLE = [OpenApiExample("A case", value=CASE_EXAMPLE, response_only=True)]


class CaseFilter(django_filters.FilterSet):
    account = django_filters.UUIDFilter(field_name="account_id", help_text="The account's id.")
    status = django_filters.ChoiceFilter(choices=CaseStatus.choices)

    class Meta:
        model = DunningCase
        fields = ["account", "status"]


@extend_schema_view(
    list=extend_schema(summary="List dunning cases", description="Filter with `?account=<uuid>`.", examples=EXAMPLE),
    retrieve=extend_schema(summary="Get a dunning case with its actions", examples=EXAMPLE),
)
@extend_schema(tags=["dunning"])
class CaseViewSet(ResourceViewSet[DunningCase]):
    """Dunning cases (one per account while it owes overdue money) and the steps executed."""

    serializer_class = CaseOutput
    filterset_class = CaseFilter
    ordering = ["-opened_at"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[DunningCase]:
        actions = DunningAction.objects.order_by("executed_at", "offset_days")
        return DunningCase.objects.prefetch_related(Prefetch("actions", queryset=actions))

    @extend_schema(
        summary="Pause a case",
        description="No step runs while paused (e.g. a disputed invoice); a payment still resolves it.",
        request=PauseInput,
        responses={200: CaseOutput},
        examples=[
            OpenApiExample("Reason", value={"reason": "Invoice disputed"}, request_only=True),
            OpenApiExample("Paused", value={**CASE_EXAMPLE, "status": "paused"}, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        data = PauseInput(data=request.data)
        data.is_valid(raise_exception=True)
        case = case_pause(
            case=self.get_object(), reason=data.validated_data["reason"], actor=request_principal(request)
        )
        return self.respond(case)

    @extend_schema(
        summary="Resume a paused case",
        description="Steps that fell due while paused follow the policy's catch-up rule.",
        request=ResumeInput,
        responses={200: CaseOutput},
        examples=[OpenApiExample("Active again", value=CASE_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        data = ResumeInput(data=request.data)
        data.is_valid(raise_exception=True)
        case = case_resume(
            case=self.get_object(), reason=data.validated_data["reason"], actor=request_principal(request)
        )
        return self.respond(case)
