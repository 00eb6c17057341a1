"""Role checks for API views: every resource picks from these.

`BillingAccess` (the default) asks billing.read for safe methods and billing.write for the
rest; destructive actions (void, write-off, revoke) ask `BillingAdmin`; tenant provisioning
asks `PlatformAdmin`. A request without a credential gets 401, one without the role 403.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django_tenants.utils import get_public_schema_name
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from apps.core.api.principal import ApiPrincipal, Role


def principal_of(request: Request) -> ApiPrincipal | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, ApiPrincipal) else None


def request_principal(request: Request) -> ApiPrincipal:
    """The caller of a view guarded by these permissions (who acted, for services and the audit trail)."""
    principal = principal_of(request)
    if principal is None:
        raise NotAuthenticated()
    return principal


class _RoleRequired(BasePermission):
    role: ClassVar[str]
    # Billing roles mean something only inside a tenant; platform.admin does not need one.
    needs_tenant: ClassVar[bool] = True
    message = "This credential does not allow this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = principal_of(request)
        if principal is None:
            return False
        if self.needs_tenant and principal.tenant == get_public_schema_name():
            self.message = "This credential is not bound to a billing tenant."
            return False
        if not principal.has_role(self.role):
            self.message = f"This action needs the role {self.role}."
            return False
        return True


class BillingRead(_RoleRequired):
    role = Role.BILLING_READ


class BillingWrite(_RoleRequired):
    role = Role.BILLING_WRITE


class BillingAdmin(_RoleRequired):
    role = Role.BILLING_ADMIN


class PlatformAdmin(_RoleRequired):
    role = Role.PLATFORM_ADMIN
    needs_tenant = False


class BillingAccess(BasePermission):
    """billing.read to read, billing.write to change (POST, PUT, PATCH, DELETE)."""

    message = "This credential does not allow this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        check = BillingRead() if request.method in SAFE_METHODS else BillingWrite()
        allowed = check.has_permission(request, view)
        if not allowed:
            self.message = check.message
        return allowed


__all__ = [
    "BillingAccess",
    "BillingAdmin",
    "BillingRead",
    "BillingWrite",
    "PlatformAdmin",
    "principal_of",
    "request_principal",
]
