"""`accounts/<id>/export/` and `accounts/<id>/anonymise/`: thin views over apps.privacy.services."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.serializers import ACCOUNT_EXAMPLE, AccountOutput
from apps.accounts.models import Account
from apps.core.api.permissions import BillingAccess, BillingAdmin, request_principal
from apps.privacy.services import account_anonymise, account_export

ExportOutput = inline_serializer(
    "AccountExport",
    fields={
        "format": serializers.CharField(),
        "export_id": serializers.UUIDField(),
        "exported_at": serializers.DateTimeField(),
        "tenant": serializers.CharField(),
        "account": serializers.DictField(),
        "account_history": serializers.ListField(child=serializers.DictField()),
        "invoices": serializers.ListField(child=serializers.DictField()),
        "credit_notes": serializers.ListField(child=serializers.DictField()),
        "payments": serializers.ListField(child=serializers.DictField()),
        "payment_methods": serializers.ListField(child=serializers.DictField()),
        "charge_attempts": serializers.ListField(child=serializers.DictField()),
        "events": serializers.ListField(child=serializers.DictField()),
        "data_protection_requests": serializers.ListField(child=serializers.DictField()),
    },
)


class AnonymiseInput(serializers.Serializer[dict]):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class AccountExportView(APIView):
    """Everything billing holds about one account (a data subject's access request)."""

    permission_classes = [BillingAccess]

    @extend_schema(
        tags=["accounts"],
        operation_id="accounts_export",
        summary="Export an account's data",
        description=(
            "The account, its change history, invoices with lines, credit notes, payments with "
            "allocations and refunds, saved payment methods, charge attempts, the ids of its events, "
            "notifications and dunning cases: JSON, amounts as strings. Each export is recorded."
        ),
        responses={200: ExportOutput},
        examples=[
            OpenApiExample(
                "An export",
                response_only=True,
                value={
                    "format": "dotmac-billing.account-export/1",
                    "export_id": "0b9f3c1e-8a4e-4f43-9d59-3c1f1f2b7a10",
                    "exported_at": "2026-11-25T10:00:00+00:00",
                    "tenant": "acme",
                    "account": ACCOUNT_EXAMPLE,
                    "account_history": [],
                    "invoices": [],
                    "credit_notes": [],
                    "payments": [],
                    "payment_methods": [],
                    "charge_attempts": [],
                    "events": [{"id": "7d1c...", "type": "account.created", "sequence": 1}],
                    "data_protection_requests": [],
                },
            )
        ],
    )
    def get(self, request: Request, pk: str) -> Response:
        account = get_object_or_404(Account, pk=pk)
        return Response(account_export(account=account, actor=request_principal(request), via="api"))


class AccountAnonymiseView(APIView):
    """Erase the person behind a closed account; financial records stay (billing.admin only)."""

    permission_classes = [BillingAdmin]

    @extend_schema(
        tags=["accounts"],
        operation_id="accounts_anonymise",
        summary="Anonymise a closed account",
        description=(
            "Personal fields are erased (also from the account's history and from invoice snapshots, "
            "except the name, address and tax id a VAT invoice must keep); amounts, dates and references "
            "stay. Publishes `account.anonymised`. Refused (409) unless the account is closed; a repeat "
            "answers the anonymised account again. Needs billing.admin."
        ),
        request=AnonymiseInput,
        responses={200: AccountOutput},
        examples=[
            OpenApiExample("Reason", value={"reason": "Erasure request #4711"}, request_only=True),
            OpenApiExample(
                "Anonymised",
                value={
                    **ACCOUNT_EXAMPLE,
                    "name": "Anonymised ACC-000123",
                    "email": "",
                    "phone": "",
                    "status": "closed",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request, pk: str) -> Response:
        data = AnonymiseInput(data=request.data)
        data.is_valid(raise_exception=True)
        account = get_object_or_404(Account, pk=pk)
        account = account_anonymise(
            account=account, actor=request_principal(request), via="api", reason=data.validated_data["reason"]
        )
        account.refresh_from_db()
        return Response(AccountOutput(account).data)
