"""API authentication: a platform token or a tenant API key, both as `Authorization: Bearer`.

The credential names the tenant (the token's `tenant` claim, the key's tenant), on any
host: the connection is switched to that tenant's schema. A tenant host whose tenant is
another one refuses the credential (403), as does a suspended tenant; an unknown tenant
is a 401. The credential is resolved once per request and cached on it, so the
idempotency middleware (which needs the caller before the view runs) and DRF share it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from apps.core.api.principal import ApiPrincipal, PrincipalKind
from apps.core.tenancy import use_tenant
from apps.tenants.api.tokens import CredentialError, PlatformClaims, TokenStoreUnavailable, consume_jti
from apps.tenants.api.tokens import verify_platform_token as _verify_platform_token
from apps.tenants.models import ApiKey, Tenant, TenantStatus
from apps.tenants.services import API_KEY_PATTERN, api_key_hash, api_key_record_use

WWW_AUTHENTICATE = 'Bearer realm="billing"'
_CACHE_ATTRIBUTE = "_billing_api_credential"


@dataclass(frozen=True)
class Credential:
    """An accepted credential: who (principal), for which tenant, and the token claims or key."""

    principal: ApiPrincipal
    tenant: Tenant
    auth: PlatformClaims | ApiKey


def resolve_credential(request: HttpRequest) -> Credential | None:
    """The request's credential (None without an Authorization header); CredentialError if refused."""
    cached = request.__dict__.get(_CACHE_ATTRIBUTE)
    if cached is not None:
        outcome = cached[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    try:
        credential = _resolve(request)
    except (CredentialError, TokenStoreUnavailable) as exc:
        request.__dict__[_CACHE_ATTRIBUTE] = (exc,)
        raise
    request.__dict__[_CACHE_ATTRIBUTE] = (credential,)
    return credential


def _invalid(detail: str) -> CredentialError:
    return CredentialError(detail, type_slug="invalid-credential", title="Invalid credential")


def _resolve(request: HttpRequest) -> Credential | None:
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise _invalid("Send the credential as 'Authorization: Bearer <token>'.")

    claims: PlatformClaims | None = None
    if token.startswith("bk_"):
        api_key = _api_key(token)
        tenant = api_key.tenant
        principal = ApiPrincipal(
            kind=PrincipalKind.API_KEY,
            sub=f"api-key:{api_key.pk}",
            tenant=tenant.schema_name,
            roles=api_key.roles,
            credential_id=str(api_key.pk),
        )
        auth: PlatformClaims | ApiKey = api_key
    else:
        claims = _verify_platform_token(token)
        tenant = _known_tenant(claims.tenant)
        principal = ApiPrincipal(
            kind=PrincipalKind.PLATFORM_TOKEN,
            sub=claims.sub,
            tenant=tenant.schema_name,
            roles=claims.roles,
            credential_id=claims.jti,
        )
        auth = claims

    _check_tenant_access(request, tenant)
    if claims is not None:
        # Last, so that a token refused for another reason is not burnt.
        consume_jti(claims)
    else:
        api_key_record_use(api_key=api_key)

    if tenant.schema_name != get_public_schema_name():
        use_tenant(tenant)
        request.tenant = tenant  # type: ignore[attr-defined]
    return Credential(principal=principal, tenant=tenant, auth=auth)


def _api_key(token: str) -> ApiKey:
    match = API_KEY_PATTERN.fullmatch(token)
    if match is None:
        raise _invalid("The API key is malformed (expected bk_<12 characters>_<secret>).")
    api_key = ApiKey.objects.select_related("tenant").filter(prefix=match["prefix"]).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, api_key_hash(token)):
        raise _invalid("Unknown API key.")
    if not api_key.is_active:
        raise _invalid("This API key was revoked.")
    return api_key


def _known_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(schema_name=slug).first()
    if tenant is None:
        raise CredentialError(f"Unknown tenant {slug!r}.", type_slug="unknown-tenant", title="Unknown tenant")
    return tenant


def _check_tenant_access(request: HttpRequest, tenant: Tenant) -> None:
    if tenant.status == TenantStatus.SUSPENDED:
        raise CredentialError(
            f"The tenant {tenant.schema_name!r} is suspended.",
            status=403,
            type_slug="tenant-suspended",
            title="Tenant suspended",
        )
    host_tenant = getattr(request, "tenant", None)
    host_schema = getattr(host_tenant, "schema_name", None)
    if host_schema not in (None, get_public_schema_name(), tenant.schema_name):
        raise CredentialError(
            f"This credential is for tenant {tenant.schema_name!r}, not for this host's tenant {host_schema!r}.",
            status=403,
            type_slug="tenant-mismatch",
            title="Credential for another tenant",
        )


class CredentialRefused(exceptions.AuthenticationFailed):
    """401 problem for a refused credential (DRF adds WWW-Authenticate)."""

    def __init__(self, error: CredentialError) -> None:
        super().__init__(error.detail)
        self.problem_type = error.type_slug
        self.problem_title = error.title


class CredentialForbidden(exceptions.PermissionDenied):
    """403 problem for a valid credential that may not be used here."""

    def __init__(self, error: CredentialError) -> None:
        super().__init__(error.detail)
        self.problem_type = error.type_slug
        self.problem_title = error.title


class CredentialStoreUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "Credentials cannot be checked right now; retry shortly."
    default_code = "credential_store_unavailable"


class BearerAuthentication(BaseAuthentication):
    """DRF's view of `resolve_credential`: `request.user` is the ApiPrincipal."""

    def authenticate(self, request: Request) -> tuple[ApiPrincipal, Any] | None:
        try:
            credential = resolve_credential(request._request)
        except CredentialError as exc:
            if exc.status == 403:
                raise CredentialForbidden(exc) from exc
            raise CredentialRefused(exc) from exc
        except TokenStoreUnavailable as exc:
            raise CredentialStoreUnavailable() from exc
        if credential is None:
            return None
        return credential.principal, credential.auth

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    """The two bearer credentials, as alternatives, in the OpenAPI document."""

    target_class = BearerAuthentication
    name = ["PlatformToken", "ApiKey"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{"PlatformToken": []}, {"ApiKey": []}]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": (
                    "The platform gateway's signed JWT (HS256, RS256 or ES256) with the claims iss, aud, sub, "
                    "tenant (slug), roles (billing.read, billing.write, billing.admin, platform.admin), "
                    "exp, iat and jti; at most 10 minutes between iat and exp. The tenant comes from the token."
                ),
            },
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "bk_...",
                "description": (
                    "A tenant API key (created in the tenant's admin, shown once), scoped read "
                    "(billing.read) or read-write (billing.read, billing.write)."
                ),
            },
        ]
