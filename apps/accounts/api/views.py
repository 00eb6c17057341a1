"""`accounts/`: thin views over apps.accounts.services (every write goes through a service)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.serializers import (
    ACCOUNT_EXAMPLE,
    AccountCreateInput,
    AccountOutput,
    AccountUpdateInput,
    ReasonInput,
)
from apps.accounts.models import Account, AccountStatus
from apps.accounts.services import account_close, account_create, account_reactivate, account_suspend, account_update
from apps.core.api.permissions import BillingAdmin, request_principal
from apps.core.api.views import ResourceViewSet

EXAMPLE = [OpenApiExample("An account", value=ACCOUNT_EXAMPLE, response_only=True)]


class AccountFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter(help_text="The platform's id for the customer (exact).")
    email = django_filters.CharFilter(lookup_expr="iexact")
    status = django_filters.ChoiceFilter(choices=AccountStatus.choices)
    currency = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Account
        fields = ["external_id", "email", "status", "currency"]


@extend_schema_view(
    list=extend_schema(
        summary="List accounts", description="Filter by `external_id` to look one up.", examples=EXAMPLE
    ),
    retrieve=extend_schema(summary="Get an account", examples=EXAMPLE),
)
@extend_schema(tags=["accounts"])
class AccountViewSet(ResourceViewSet[Account]):
    """Billing accounts: create, read, update, suspend, reactivate, close; statement under statement/."""

    serializer_class = AccountOutput
    filterset_class = AccountFilter
    ordering_fields = ["created_at", "name", "number"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Account]:
        return Account.objects.all()

    @extend_schema(
        summary="Create an account",
        request=AccountCreateInput,
        responses={201: AccountOutput},
        examples=[
            OpenApiExample(
                "New account",
                request_only=True,
                value={
                    "external_id": "sub-1001",
                    "name": "Ada Obi",
                    "email": "ada@example.com",
                    "phone": "+2348012345678",
                    "currency": "NGN",
                    "locale": "en",
                },
            ),
            OpenApiExample("Created", value=ACCOUNT_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def create(self, request: Request) -> Response:
        data = AccountCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        account = account_create(
            name=fields.pop("name"), currency=fields.pop("currency"), actor=request_principal(request), **fields
        )
        return self.respond_created(account)

    @extend_schema(
        summary="Update an account",
        description="Change any of the given fields; the currency never changes.",
        request=AccountUpdateInput,
        responses={200: AccountOutput},
        examples=[
            OpenApiExample("New e-mail", value={"email": "ada.obi@example.com"}, request_only=True),
            OpenApiExample("Updated", value=ACCOUNT_EXAMPLE, response_only=True),
        ],
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        data = AccountUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        account = account_update(account=self.get_object(), actor=request_principal(request), **data.validated_data)
        return self.respond(account)

    @extend_schema(
        summary="Suspend an account",
        description="The platform cuts the customer's service on the `account.suspended` event.",
        request=ReasonInput,
        responses={200: AccountOutput},
        examples=[
            OpenApiExample("Reason", value={"reason": "Requested by customer"}, request_only=True),
            OpenApiExample("Suspended", value={**ACCOUNT_EXAMPLE, "status": "suspended"}, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk: str) -> Response:
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        account = account_suspend(
            account=self.get_object(), reason=data.validated_data["reason"], actor=request_principal(request)
        )
        return self.respond(account)

    @extend_schema(
        summary="Reactivate an account",
        request=ReasonInput,
        responses={200: AccountOutput},
        examples=[
            OpenApiExample("Reason", value={"reason": "Paid in full"}, request_only=True),
            OpenApiExample("Active", value=ACCOUNT_EXAMPLE, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, pk: str) -> Response:
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        account = account_reactivate(
            account=self.get_object(), reason=data.validated_data["reason"], actor=request_principal(request)
        )
        return self.respond(account)

    @extend_schema(
        summary="Close an account",
        description="Only an account that owes nothing, holds no credit and has no drafts. Needs billing.admin.",
        request=None,
        responses={200: AccountOutput},
        examples=[OpenApiExample("Closed", value={**ACCOUNT_EXAMPLE, "status": "closed"}, response_only=True)],
    )
    @action(detail=True, methods=["post"], permission_classes=[BillingAdmin])
    def close(self, request: Request, pk: str) -> Response:
        account = account_close(account=self.get_object(), actor=request_principal(request))
        return self.respond(account)
