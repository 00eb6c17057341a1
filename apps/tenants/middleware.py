"""Request routing by host (django-tenants) and the suspended-tenant gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from apps.tenants.models import Tenant, TenantStatus


class TenantMiddleware(TenantMainMiddleware):
    """Select the tenant's schema from the host; unknown hosts get the 404 page.

    The public host is `BASE_DOMAIN` itself, so it needs no Domain row and follows the
    setting wherever the deployment moves.
    """

    def get_tenant(self, domain_model: Any, hostname: str) -> Tenant:
        if hostname in {settings.BASE_DOMAIN, "127.0.0.1"}:
            return Tenant.objects.get(schema_name=get_public_schema_name())
        return super().get_tenant(domain_model, hostname)


class SuspendedTenantMiddleware:
    """A suspended tenant's hosts answer a clear 'suspended' page instead of the product."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is not None and getattr(tenant, "status", None) == TenantStatus.SUSPENDED:
            if request.path.startswith("/static/"):
                return self.get_response(request)
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "type": "about:blank",
                        "title": "Tenant suspended",
                        "status": 403,
                        "detail": f"The tenant {tenant.schema_name!r} is suspended.",
                    },
                    status=403,
                    content_type="application/problem+json",
                )
            return render(request, "tenants/suspended.html", {"tenant": tenant}, status=403)
        return self.get_response(request)
