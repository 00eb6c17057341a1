"""Who is calling the API: the principal that `request.user` carries (the audit trail records it)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Roles in a platform token (API keys map their scope onto these)."""

    BILLING_READ = "billing.read"
    BILLING_WRITE = "billing.write"
    BILLING_ADMIN = "billing.admin"
    PLATFORM_ADMIN = "platform.admin"


# A stronger billing role includes the weaker ones; platform.admin is separate (provisioning).
_IMPLIED: dict[str, frozenset[str]] = {
    Role.BILLING_ADMIN: frozenset({Role.BILLING_WRITE, Role.BILLING_READ}),
    Role.BILLING_WRITE: frozenset({Role.BILLING_READ}),
}


def effective_roles(roles: frozenset[str] | set[str] | list[str]) -> frozenset[str]:
    """The granted roles plus the ones they imply; unknown role names are kept but grant nothing."""
    granted = set(roles)
    for role in list(granted):
        granted |= _IMPLIED.get(role, frozenset())
    return frozenset(granted)


# What a service's permission check (apps.core.actors.require_permission) asks of an API
# caller: destructive verbs need billing.admin, other changes billing.write, reads billing.read.
PERMISSION_ROLES: dict[str, str] = {
    "accounts.delete_account": Role.BILLING_ADMIN,  # closing an account
    "invoices.void_invoice": Role.BILLING_ADMIN,
    "invoices.write_off_invoice": Role.BILLING_ADMIN,
    "payments.refund_payment": Role.BILLING_ADMIN,
    "privacy.export_personal_data": Role.BILLING_READ,  # what a reader could fetch piece by piece
    "privacy.anonymise_account": Role.BILLING_ADMIN,
}


def role_for_permission(perm: str) -> str:
    """The role that grants a Django permission (`app_label.codename`) to an API caller."""
    if perm in PERMISSION_ROLES:
        return PERMISSION_ROLES[perm]
    codename = perm.partition(".")[2]
    return Role.BILLING_READ if codename.startswith("view_") else Role.BILLING_WRITE


class PrincipalKind(StrEnum):
    PLATFORM_TOKEN = "platform_token"  # noqa: S105 - a kind of credential, not a secret
    API_KEY = "api_key"


@dataclass(frozen=True)
class ApiPrincipal:
    """An authenticated API caller.

    `sub` is the platform user (a token's `sub`) or `api-key:<id>`; `credential_id` is the
    token's `jti` or the key's id. It quacks enough like a Django user for DRF.
    """

    kind: PrincipalKind
    sub: str
    tenant: str
    roles: frozenset[str]
    credential_id: str
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    @property
    def caller(self) -> str:
        """Who the caller is across credentials: a token's user (never its jti) or the API key."""
        if self.kind == PrincipalKind.API_KEY:
            return f"key:{self.credential_id}"
        return f"user:{self.sub}"

    def has_role(self, role: str) -> bool:
        return role in effective_roles(self.roles)

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """An Actor for the services: Django permissions map onto roles (role_for_permission)."""
        return self.has_role(role_for_permission(perm))

    def get_username(self) -> str:
        return self.sub

    def __str__(self) -> str:
        return f"{self.sub}@{self.tenant} ({self.kind})"
