"""`invoices/` and `credit-notes/`: thin views over apps.invoices' services."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.serializers import ReasonInput
from apps.accounts.models import Account
from apps.core.api.permissions import BillingAdmin, request_principal
from apps.core.api.principal import ApiPrincipal
from apps.core.api.problems import problem_for_exception
from apps.core.api.views import ResourceViewSet
from apps.core.errors import ValidationFailed
from apps.core.tenancy import tenant_today
from apps.invoices.api.serializers import (
    CREDIT_NOTE_EXAMPLE,
    INVOICE_EXAMPLE,
    INVOICE_LINE_ROWS,
    INVOICE_ROW_COLUMNS,
    BulkInvoicesInput,
    BulkInvoicesOutput,
    CreditNoteCreateInput,
    CreditNoteOutput,
    InvoiceCreateInput,
    InvoiceOutput,
    InvoiceUpdateInput,
    invoice_line_rows,
    invoice_representations,
    lines_of,
)
from apps.invoices.credit_notes import credit_note_issue
from apps.invoices.documents import invoice_pdf
from apps.invoices.models import CreditNote, Invoice, InvoiceLine, InvoiceStatus
from apps.invoices.services import (
    invoice_create,
    invoice_delete_draft,
    invoice_finalize,
    invoice_mark_sent,
    invoice_mark_uncollectible,
    invoice_update_draft,
    invoice_void,
)

INVOICE_EXAMPLES = [OpenApiExample("An invoice", value=INVOICE_EXAMPLE, response_only=True)]
NEW_INVOICE = {
    "account": INVOICE_EXAMPLE["account"],
    "currency": "NGN",
    "due_date": "2026-12-01",
    "lines": [{"description": "Fibre 100 Mbps, December", "quantity": "1", "unit_price": "25000.00"}],
}


def account_by_id(account_id: Any, field: str = "account") -> Account:
    """An account of this tenant, or a field error (another tenant's ids are simply unknown)."""
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise ValidationFailed(f"no account {account_id}", field=field)
    return account


def invoice_by_id(invoice_id: Any, field: str = "invoice") -> Invoice:
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None:
        raise ValidationFailed(f"no invoice {invoice_id}", field=field)
    return invoice


def create_invoice(values: dict[str, Any], actor: ApiPrincipal) -> Invoice:
    """One invoice from POST invoices/ (or one bulk item): create the draft, finalize if asked."""
    with transaction.atomic():
        invoice = invoice_create(
            account=account_by_id(values["account"]),
            lines=lines_of(values["lines"]),
            currency=values.get("currency"),
            due_date=values.get("due_date"),
            issue_date=values.get("issue_date"),
            memo=values.get("memo", ""),
            external_id=values.get("external_id"),
            metadata=values.get("metadata"),
            actor=actor,
        )
        if values.get("finalize"):
            invoice = invoice_finalize(invoice=invoice, actor=actor)
    return invoice


class InvoiceFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=InvoiceStatus.choices, help_text="Repeat for several.")
    account = django_filters.UUIDFilter(field_name="account_id")
    currency = django_filters.CharFilter(lookup_expr="iexact")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    overdue = django_filters.BooleanFilter(method="filter_overdue", help_text="Open, past due, something due.")
    external_id = django_filters.CharFilter()
    number = django_filters.CharFilter()

    class Meta:
        model = Invoice
        fields = ["status", "account", "currency", "external_id", "number"]

    def filter_overdue(self, queryset: QuerySet[Invoice], name: str, value: bool | None) -> QuerySet[Invoice]:
        if value is None:
            return queryset
        overdue = Q(status=InvoiceStatus.OPEN, due_date__lt=tenant_today(), amount_due__gt=0)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


@extend_schema_view(
    list=extend_schema(summary="List invoices", examples=INVOICE_EXAMPLES),
    retrieve=extend_schema(summary="Get an invoice", examples=INVOICE_EXAMPLES),
)
@extend_schema(tags=["invoices"])
class InvoiceViewSet(ResourceViewSet[Invoice]):
    """Invoices: drafts with lines, finalize, send, void, write off, PDF, bulk creation."""

    serializer_class = InvoiceOutput
    filterset_class = InvoiceFilter
    ordering_fields = ["created_at", "due_date", "issue_date", "number", "total"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Invoice]:
        # Into a list attribute (Invoice.line_list reads it): a plain prefetch would build a
        # related manager and filter a queryset per invoice, a fifth of a page's time.
        return Invoice.objects.prefetch_related(
            Prefetch("lines", queryset=InvoiceLine.objects.all(), to_attr=Invoice.PREFETCHED_LINES)
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The same page as ListModelMixin's with InvoiceOutput, built from rows: the columns it
        shows and each invoice's lines as one JSON array, in one query (see invoice_representations)."""
        queryset = self.filter_queryset(Invoice.objects.all())
        rows = queryset.values(*INVOICE_ROW_COLUMNS, **{INVOICE_LINE_ROWS: invoice_line_rows()})
        page = self.paginate_queryset(rows)
        if page is None:  # not paginated (never, with the default pagination class)
            return Response(invoice_representations(rows))
        return self.get_paginated_response(invoice_representations(page))

    @extend_schema(
        summary="Create an invoice",
        description="A draft with its lines; `finalize: true` also finalizes it. A line is taxed only by the "
        "`tax_rate` it names.",
        request=InvoiceCreateInput,
        responses={201: InvoiceOutput},
        examples=[
            OpenApiExample("Draft", value=NEW_INVOICE, request_only=True),
            OpenApiExample("Created", value=INVOICE_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def create(self, request: Request) -> Response:
        data = InvoiceCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        invoice = create_invoice(data.validated_data, request_principal(request))
        return self.respond_created(invoice)

    @extend_schema(
        summary="Update a draft",
        request=InvoiceUpdateInput,
        responses={200: InvoiceOutput},
        examples=[
            OpenApiExample("New due date", value={"due_date": "2026-12-15"}, request_only=True),
            OpenApiExample("Updated", value={**INVOICE_EXAMPLE, "status": "draft", "number": None}, response_only=True),
        ],
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        data = InvoiceUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        changes: dict[str, Any] = {}
        if "lines" in values:
            changes["lines"] = lines_of(values["lines"])
        if "due_date" in values:
            changes["due_date"] = values["due_date"]
        if "memo" in values:
            changes["memo"] = values["memo"]
        if "metadata" in values:
            changes["metadata"] = values["metadata"]
        invoice = invoice_update_draft(invoice=self.get_object(), actor=request_principal(request), **changes)
        return self.respond(invoice)

    @extend_schema(summary="Delete a draft", responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        invoice_delete_draft(invoice=self.get_object(), actor=request_principal(request))
        return Response(status=204)

    @extend_schema(summary="Finalize a draft", request=None, responses={200: InvoiceOutput}, examples=INVOICE_EXAMPLES)
    @action(detail=True, methods=["post"])
    def finalize(self, request: Request, pk: str) -> Response:
        return self.respond(invoice_finalize(invoice=self.get_object(), actor=request_principal(request)))

    @extend_schema(
        summary="Send an invoice",
        description="Records the sending; notifications go out on `invoice.sent`.",
        request=None,
        responses={200: InvoiceOutput},
        examples=INVOICE_EXAMPLES,
    )
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str) -> Response:
        return self.respond(invoice_mark_sent(invoice=self.get_object(), actor=request_principal(request)))

    @extend_schema(
        summary="Void an invoice",
        description="Only open invoices with nothing paid or credited. Needs billing.admin.",
        request=ReasonInput,
        responses={200: InvoiceOutput},
        examples=[
            OpenApiExample("Reason", value={"reason": "Issued in error"}, request_only=True),
            OpenApiExample("Void", value={**INVOICE_EXAMPLE, "status": "void"}, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"], permission_classes=[BillingAdmin])
    def void(self, request: Request, pk: str) -> Response:
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        invoice = invoice_void(
            invoice=self.get_object(), reason=data.validated_data["reason"], actor=request_principal(request)
        )
        return self.respond(invoice)

    @extend_schema(
        summary="Write off an invoice",
        description="Open -> uncollectible. Needs billing.admin.",
        request=ReasonInput,
        responses={200: InvoiceOutput},
        examples=[
            OpenApiExample("Reason", value={"reason": "Customer unreachable"}, request_only=True),
            OpenApiExample("Written off", value={**INVOICE_EXAMPLE, "status": "uncollectible"}, response_only=True),
        ],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="mark-uncollectible",
        url_name="mark-uncollectible",
        permission_classes=[BillingAdmin],
    )
    def mark_uncollectible(self, request: Request, pk: str) -> Response:
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        invoice = invoice_mark_uncollectible(
            invoice=self.get_object(), reason=data.validated_data["reason"], actor=request_principal(request)
        )
        return self.respond(invoice)

    @extend_schema(
        summary="The invoice as PDF",
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="A PDF document.")},
    )
    @action(detail=True, methods=["get"])
    def pdf(self, request: Request, pk: str) -> HttpResponse:
        invoice = self.get_object()
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        name = invoice.number or f"draft-{invoice.pk}"
        response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        return response

    @extend_schema(
        summary="Create up to 500 invoices",
        description="Each item as for POST invoices/ (with `finalize` if wanted) and atomic on its own: the "
        "answer has a result per item, 201 with the invoice or the item's problem.",
        request=BulkInvoicesInput,
        responses={200: BulkInvoicesOutput},
        examples=[
            OpenApiExample(
                "Two invoices", value={"invoices": [NEW_INVOICE, {**NEW_INVOICE, "finalize": True}]}, request_only=True
            ),
            OpenApiExample(
                "Results",
                response_only=True,
                value={
                    "created": 1,
                    "failed": 1,
                    "results": [
                        {"index": 0, "status": 201, "invoice": INVOICE_EXAMPLE, "error": None},
                        {
                            "index": 1,
                            "status": 400,
                            "invoice": None,
                            "error": {
                                "type": "urn:dotmac:billing:problem:validation-error",
                                "title": "Invalid request",
                                "status": 400,
                                "detail": "no account 00000000-0000-0000-0000-000000000000",
                                "errors": {"account": ["no account 00000000-0000-0000-0000-000000000000"]},
                            },
                        },
                    ],
                },
            ),
        ],
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        data = BulkInvoicesInput(data=request.data)
        data.is_valid(raise_exception=True)
        actor = request_principal(request)
        results: list[dict[str, Any]] = []
        created_ids = []
        for index, item in enumerate(data.validated_data["invoices"]):
            try:
                values = InvoiceCreateInput(data=item)
                values.is_valid(raise_exception=True)
                invoice = create_invoice(values.validated_data, actor)
            except Exception as exc:  # each item answers for itself; unexpected errors re-raise below
                answer = problem_for_exception(exc)
                if answer is None:
                    raise
                results.append({"index": index, "status": answer[0]["status"], "invoice": None, "error": answer[0]})
                continue
            created_ids.append(invoice.pk)
            results.append({"index": index, "status": 201, "invoice": invoice.pk, "error": None})
        invoices = {invoice.pk: invoice for invoice in self.get_queryset().filter(pk__in=created_ids)}
        for result in results:
            if result["invoice"] is not None:
                result["invoice"] = InvoiceOutput(invoices[result["invoice"]]).data
        return Response({"created": len(created_ids), "failed": len(results) - len(created_ids), "results": results})


class CreditNoteFilter(django_filters.FilterSet):
    account = django_filters.UUIDFilter(field_name="account_id")
    invoice = django_filters.UUIDFilter(field_name="invoice_id")

    class Meta:
        model = CreditNote
        fields = ["account", "invoice"]


CREDIT_NOTE_EXAMPLES = [OpenApiExample("A credit note", value=CREDIT_NOTE_EXAMPLE, response_only=True)]


@extend_schema_view(
    list=extend_schema(summary="List credit notes", examples=CREDIT_NOTE_EXAMPLES),
    retrieve=extend_schema(summary="Get a credit note", examples=CREDIT_NOTE_EXAMPLES),
)
@extend_schema(tags=["credit-notes"])
class CreditNoteViewSet(ResourceViewSet[CreditNote]):
    """Credit notes against open or paid invoices; what the invoice no longer owes becomes account credit."""

    serializer_class = CreditNoteOutput
    filterset_class = CreditNoteFilter
    ordering_fields = ["created_at", "number"]

    def get_queryset(self) -> QuerySet[CreditNote]:
        return CreditNote.objects.all()

    @extend_schema(
        summary="Issue a credit note",
        request=CreditNoteCreateInput,
        responses={201: CreditNoteOutput},
        examples=[
            OpenApiExample(
                "SLA credit",
                request_only=True,
                value={"invoice": INVOICE_EXAMPLE["id"], "amount": "5000.00", "reason": "Service outage, 6 days"},
            ),
            OpenApiExample("Issued", value=CREDIT_NOTE_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def create(self, request: Request) -> Response:
        data = CreditNoteCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        note = credit_note_issue(
            invoice=invoice_by_id(values["invoice"]),
            amount=values["amount"],
            reason=values["reason"],
            actor=request_principal(request),
        )
        return self.respond_created(note)
