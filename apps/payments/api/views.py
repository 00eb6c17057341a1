"""`payments/` (+ `refund/`) and `accounts/<id>/statement/`: thin views over the payment services."""

from __future__ import annotations

from decimal import Decimal

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Account
from apps.core.api.filters import IsoDateTimeFilter
from apps.core.api.permissions import BillingAccess, BillingAdmin, request_principal
from apps.core.api.views import ResourceViewSet
from apps.core.money import money_str
from apps.core.tenancy import tenant_today
from apps.payments.api.serializers import (
    PAYMENT_EXAMPLE,
    REFUND_EXAMPLE,
    PaymentCreateInput,
    PaymentOutput,
    RefundInput,
    StatementOutput,
    StatementQuery,
)
from apps.payments.models import Payment, PaymentMethod, PaymentStatus
from apps.payments.selectors import account_statement
from apps.payments.services import AllocationInput, payment_record, payment_refund

PAYMENT_EXAMPLES = [OpenApiExample("A payment", value=PAYMENT_EXAMPLE, response_only=True)]


class PaymentFilter(django_filters.FilterSet):
    account = django_filters.UUIDFilter(field_name="account_id")
    status = django_filters.ChoiceFilter(choices=PaymentStatus.choices)
    method = django_filters.ChoiceFilter(choices=PaymentMethod.choices)
    reference = django_filters.CharFilter()
    gateway_reference = django_filters.CharFilter()
    received_after = IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = Payment
        fields = ["account", "status", "method", "reference", "gateway_reference"]


@extend_schema_view(
    list=extend_schema(summary="List payments", examples=PAYMENT_EXAMPLES),
    retrieve=extend_schema(summary="Get a payment", examples=PAYMENT_EXAMPLES),
)
@extend_schema(tags=["payments"])
class PaymentViewSet(ResourceViewSet[Payment]):
    """Payments received: recorded with optional explicit allocations; refunds."""

    serializer_class = PaymentOutput
    filterset_class = PaymentFilter
    ordering_fields = ["created_at", "received_at", "amount"]

    def get_queryset(self) -> QuerySet[Payment]:
        return Payment.objects.prefetch_related("allocations", "refunds__payment")

    @extend_schema(
        summary="Record a payment",
        description="Send an Idempotency-Key: a retried payment is then recorded once.",
        request=PaymentCreateInput,
        responses={201: PaymentOutput},
        examples=[
            OpenApiExample(
                "Bank transfer",
                request_only=True,
                value={
                    "account": PAYMENT_EXAMPLE["account"],
                    "amount": "25000.00",
                    "currency": "NGN",
                    "method": "bank_transfer",
                    "reference": "TRF-778",
                    "allocations": [PAYMENT_EXAMPLE["allocations"][0]],
                },
            ),
            OpenApiExample("Recorded", value=PAYMENT_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def create(self, request: Request) -> Response:
        data = PaymentCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        allocations = values.get("allocations")
        payment = payment_record(
            account=values["account"],  # its id: the service reads it once, locked (an unknown id is a field error)
            amount=values["amount"],
            currency=values["currency"],
            method=values["method"],
            reference=values["reference"],
            gateway_reference=values["gateway_reference"],
            received_at=values.get("received_at"),
            metadata=values.get("metadata"),
            allocations=[AllocationInput(invoice=str(item["invoice"]), amount=item["amount"]) for item in allocations]
            if allocations
            else None,
            actor=request_principal(request),
        )
        # payment_record returns the payment as written, its allocations and (no) refunds prefetched.
        return self.respond_created(payment, read_back=False)

    @extend_schema(
        summary="Refund a payment",
        description="First from its unallocated credit, then from its invoices (newest first; they reopen). "
        "Needs billing.admin. Answers the payment with its refunds.",
        request=RefundInput,
        responses={200: PaymentOutput},
        examples=[
            OpenApiExample("Partial refund", value={"amount": "5000.00", "reason": "Double charge"}, request_only=True),
            OpenApiExample(
                "Refunded",
                response_only=True,
                value={**PAYMENT_EXAMPLE, "amount_refunded": "5000.00", "refunds": [REFUND_EXAMPLE]},
            ),
        ],
    )
    @action(detail=True, methods=["post"], permission_classes=[BillingAdmin])
    def refund(self, request: Request, pk: str) -> Response:
        data = RefundInput(data=request.data)
        data.is_valid(raise_exception=True)
        payment = self.get_object()
        payment_refund(
            payment=payment,
            amount=data.validated_data["amount"],
            reason=data.validated_data["reason"],
            actor=request_principal(request),
        )
        return self.respond(payment)


class AccountStatementView(APIView):
    """An account's statement: invoices, payments, refunds, credit notes, voids, write-offs."""

    permission_classes = [BillingAccess]

    @extend_schema(
        operation_id="accounts_statement",
        tags=["accounts"],
        summary="An account's statement",
        description="Opening balance, every movement with the running balance, totals and the closing "
        "balance for [start, end] (tenant timezone). The closing balance at the end of today is the "
        "account's balance.",
        parameters=[
            OpenApiParameter("start", type=OpenApiTypes.DATE, description="First day; default the 1st of the month."),
            OpenApiParameter("end", type=OpenApiTypes.DATE, description="Last day; default today."),
        ],
        responses={200: StatementOutput},
        examples=[
            OpenApiExample(
                "Statement",
                response_only=True,
                value={
                    "account": PAYMENT_EXAMPLE["account"],
                    "currency": "NGN",
                    "start": "2026-11-01",
                    "end": "2026-11-30",
                    "opening_balance": "0.00",
                    "invoiced": "25000.00",
                    "voided": "0.00",
                    "credited": "0.00",
                    "paid": "25000.00",
                    "refunded": "0.00",
                    "written_off": "0.00",
                    "closing_balance": "0.00",
                    "lines": [
                        {
                            "date": "2026-11-25",
                            "kind": "invoice",
                            "reference": "INV-2026-000042",
                            "description": "Invoice",
                            "amount": "25000.00",
                            "balance": "25000.00",
                        },
                        {
                            "date": "2026-11-26",
                            "kind": "payment",
                            "reference": "TRF-778",
                            "description": "Payment, bank transfer",
                            "amount": "-25000.00",
                            "balance": "0.00",
                        },
                    ],
                },
            )
        ],
    )
    def get(self, request: Request, pk: str) -> Response:
        query = StatementQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        account = get_object_or_404(Account, pk=pk)
        today = tenant_today()
        statement = account_statement(
            account=account,
            start=query.validated_data.get("start", today.replace(day=1)),
            end=query.validated_data.get("end", today),
        )

        def money(value: Decimal) -> str:
            return money_str(value, statement.currency)

        return Response(
            {
                "account": str(account.pk),
                "currency": statement.currency,
                "start": statement.start,
                "end": statement.end,
                "opening_balance": money(statement.opening_balance),
                "invoiced": money(statement.invoiced),
                "voided": money(statement.voided),
                "credited": money(statement.credited),
                "paid": money(statement.paid),
                "refunded": money(statement.refunded),
                "written_off": money(statement.written_off),
                "closing_balance": money(statement.closing_balance),
                "lines": [
                    {
                        "date": line.date,
                        "kind": line.kind,
                        "reference": line.reference,
                        "description": line.description,
                        "amount": money(line.amount),
                        "balance": money(line.balance),
                    }
                    for line in statement.lines
                ],
            }
        )
