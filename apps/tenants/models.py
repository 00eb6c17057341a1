"""Tenants live in the public schema; each one's billing data lives in its own schema."""

from __future__ import annotations

import zoneinfo

from django.core.validators import RegexValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

SLUG_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
RESERVED_SLUGS = frozenset({"public", "tenant_template", "www", "api", "admin", "static", "metrics", "health"})


class TenantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


TIMEZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Tenant(TenantMixin):
    """A business that bills its customers here; `schema_name` is its slug."""

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=TenantStatus.choices, default=TenantStatus.ACTIVE)
    timezone = models.CharField(max_length=64, choices=TIMEZONE_CHOICES, default="UTC")
    default_currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.CharField(max_length=500, blank=True)

    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        ordering = ["schema_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=TenantStatus.values),
                name="tenant_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"

    @property
    def slug(self) -> str:
        return self.schema_name

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.ACTIVE


slug_validator = RegexValidator(
    SLUG_PATTERN,
    "A slug is 2-40 lowercase letters, digits or underscores, starting with a letter.",
)


class Domain(DomainMixin):
    """A host name that routes to a tenant (`acme.billing.example.com`)."""

    def __str__(self) -> str:
        return self.domain
