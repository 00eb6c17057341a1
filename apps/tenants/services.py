"""Tenant provisioning: every change to a Tenant goes through here."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from apps.core.money import is_known_currency
from apps.core.tenancy import use_public_schema
from apps.tenants.exceptions import InvalidTenant, TenantExists
from apps.tenants.migrating.lock import tenant_creation_lock
from apps.tenants.models import RESERVED_SLUGS, SLUG_PATTERN, Domain, Tenant, TenantStatus
from apps.tenants.template import template_schema_migrate, template_schema_name


@dataclass(frozen=True)
class StaffUser:
    username: str
    email: str
    password: str


def tenant_host(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def tenant_check_new(*, slug: str, name: str, timezone_name: str, default_currency: str) -> None:
    """Raise a TenantError if a tenant with these details cannot be created."""
    if not re.fullmatch(SLUG_PATTERN, slug) or slug in RESERVED_SLUGS:
        raise InvalidTenant(
            f"invalid slug {slug!r}: use 2-40 lowercase letters, digits or underscores, "
            "starting with a letter, and not a reserved name"
        )
    if not name.strip():
        raise InvalidTenant("a tenant needs a name")
    if timezone_name not in zoneinfo.available_timezones():
        raise InvalidTenant(f"unknown timezone {timezone_name!r}")
    if not is_known_currency(default_currency):
        raise InvalidTenant(f"unknown currency {default_currency!r}")
    if Tenant.objects.filter(schema_name=slug).exists() or schema_exists(slug):
        raise TenantExists(f"tenant {slug!r} already exists")


def tenant_create(
    *,
    slug: str,
    name: str,
    staff: StaffUser | None = None,
    timezone_name: str = "UTC",
    default_currency: str = "USD",
    extra_domains: tuple[str, ...] = (),
) -> Tenant:
    """Create a tenant: its schema (cloned from the template), its host and first staff user.

    Either all of it exists afterwards or none of it does.
    """
    slug = slug.strip().lower()
    default_currency = default_currency.strip().upper()
    use_public_schema()
    tenant_check_new(slug=slug, name=name, timezone_name=timezone_name, default_currency=default_currency)
    hosts = (tenant_host(slug), *extra_domains)
    taken = Domain.objects.filter(domain__in=hosts).values_list("domain", flat=True)
    if taken:
        raise TenantExists(f"host {', '.join(taken)} is already in use")
    # A deploy (safe_migrate) holds this lock exclusively: cloning the template mid-deploy would
    # give the tenant the old schema. Creations run side by side; a deploy waits for them.
    with tenant_creation_lock():
        if not schema_exists(template_schema_name()):
            template_schema_migrate()
        try:
            tenant = Tenant(
                schema_name=slug, name=name.strip(), timezone=timezone_name, default_currency=default_currency
            )
            # Saving clones the template schema (Tenant.create_schema, apps.tenants.cloning), names
            # included; if that fails, django-tenants deletes the row and nothing of the clone remains.
            tenant.save(verbosity=0)
        except IntegrityError as exc:  # lost a race with another creation of the same slug
            raise TenantExists(f"tenant {slug!r} already exists") from exc

    try:
        with transaction.atomic():
            for index, host in enumerate(hosts):
                Domain.objects.create(domain=host, tenant=tenant, is_primary=index == 0)
        if staff is not None:
            with schema_context(slug):
                get_user_model().objects.create_superuser(
                    username=staff.username, email=staff.email, password=staff.password
                )
    except Exception:
        use_public_schema()
        tenant.delete(force_drop=True)
        raise
    return tenant


def tenant_suspend(*, tenant: Tenant, reason: str = "") -> Tenant:
    """Suspend a tenant: its admin shows a 'suspended' page and its API refuses requests."""
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if locked.status != TenantStatus.SUSPENDED:
            locked.status = TenantStatus.SUSPENDED
            locked.suspended_at = timezone.now()
            locked.suspension_reason = reason
            locked.save(update_fields=["status", "suspended_at", "suspension_reason"])
    return locked


def tenant_reactivate(*, tenant: Tenant) -> Tenant:
    """Lift a tenant's suspension."""
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if locked.status != TenantStatus.ACTIVE:
            locked.status = TenantStatus.ACTIVE
            locked.suspended_at = None
            locked.suspension_reason = ""
            locked.save(update_fields=["status", "suspended_at", "suspension_reason"])
    return locked
