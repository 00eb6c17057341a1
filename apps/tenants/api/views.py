"""`tenants/`: provisioning for the platform (platform.admin only)."""

from __future__ import annotations

from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from apps.core.api.permissions import PlatformAdmin
from apps.core.api.problems import register_problem
from apps.tenants.api.serializers import TenantCreateInput, TenantOutput, TenantSuspendInput
from apps.tenants.exceptions import InvalidTenant, TenantExists
from apps.tenants.models import Tenant
from apps.tenants.services import StaffUser, tenant_create, tenant_reactivate, tenant_suspend

register_problem(InvalidTenant, status=400, type_slug="invalid-tenant", title="Invalid tenant")
register_problem(TenantExists, status=409, type_slug="tenant-exists", title="Tenant exists")

TENANT_EXAMPLE = {
    "slug": "acme",
    "name": "Acme Fibre",
    "status": "active",
    "timezone": "Africa/Lagos",
    "currency": "NGN",
    "domains": ["acme.billing.example.com"],
    "created_at": "2026-11-25T09:30:00Z",
    "suspended_at": None,
    "suspension_reason": "",
}
SUSPENDED_EXAMPLE = {
    **TENANT_EXAMPLE,
    "status": "suspended",
    "suspended_at": "2026-12-01T08:00:00Z",
    "suspension_reason": "Platform subscription unpaid",
}


@extend_schema_view(
    list=extend_schema(summary="List tenants", examples=[OpenApiExample("A tenant", value=TENANT_EXAMPLE)]),
    retrieve=extend_schema(summary="Get a tenant", examples=[OpenApiExample("A tenant", value=TENANT_EXAMPLE)]),
)
@extend_schema(tags=["tenants"])
class TenantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Tenant]):
    """Tenants: create (schema, host, first staff user), list, get, suspend, reactivate."""

    permission_classes = [PlatformAdmin]
    serializer_class = TenantOutput
    lookup_field = "schema_name"
    lookup_url_kwarg = "slug"
    lookup_value_regex = "[a-z][a-z0-9_]{1,39}"
    filterset_fields = ["status"]
    ordering_fields = ["schema_name", "created_at"]
    ordering = ["schema_name"]

    def get_queryset(self) -> QuerySet[Tenant]:
        return Tenant.objects.exclude(schema_name=get_public_schema_name()).prefetch_related("domains")

    @extend_schema(
        summary="Create a tenant",
        request=TenantCreateInput,
        responses={201: TenantOutput},
        examples=[
            OpenApiExample(
                "New tenant",
                request_only=True,
                value={
                    "slug": "acme",
                    "name": "Acme Fibre",
                    "timezone": "Africa/Lagos",
                    "currency": "NGN",
                    "staff": {"username": "admin", "email": "finance@acme.example", "password": "a-long-passphrase"},
                },
            ),
            OpenApiExample("Created", response_only=True, status_codes=["201"], value=TENANT_EXAMPLE),
        ],
    )
    def create(self, request: Request) -> Response:
        data = TenantCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        tenant = tenant_create(
            slug=values["slug"],
            name=values["name"],
            timezone_name=values["timezone"],
            default_currency=values["currency"],
            staff=StaffUser(values["staff"]["username"], values["staff"]["email"], values["staff"]["password"]),
            extra_domains=tuple(values["domains"]),
        )
        tenant = self.get_queryset().get(pk=tenant.pk)
        location = reverse("api:tenant-detail", kwargs={"slug": tenant.schema_name}, request=request)
        return Response(TenantOutput(tenant).data, status=201, headers={"Location": location})

    @extend_schema(
        summary="Suspend a tenant",
        description="Its admin shows a 'suspended' page and its API credentials get 403 until reactivated.",
        request=TenantSuspendInput,
        responses={200: TenantOutput},
        examples=[
            OpenApiExample("Reason", request_only=True, value={"reason": "Platform subscription unpaid"}),
            OpenApiExample("Suspended", response_only=True, value=SUSPENDED_EXAMPLE),
        ],
    )
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, slug: str) -> Response:
        data = TenantSuspendInput(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = tenant_suspend(tenant=self.get_object(), reason=data.validated_data["reason"])
        return Response(TenantOutput(self.get_queryset().get(pk=tenant.pk)).data)

    @extend_schema(
        summary="Reactivate a tenant",
        request=None,
        responses={200: TenantOutput},
        examples=[OpenApiExample("Active again", response_only=True, value=TENANT_EXAMPLE)],
    )
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, slug: str) -> Response:
        tenant = tenant_reactivate(tenant=self.get_object())
        return Response(TenantOutput(self.get_queryset().get(pk=tenant.pk)).data)
