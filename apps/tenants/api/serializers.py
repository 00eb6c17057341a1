"""Request and response shapes of the `tenants/` resource."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from apps.tenants.models import SLUG_PATTERN, Tenant

HOST_PATTERN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


class StaffInput(serializers.Serializer[dict[str, Any]]):
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$", default="admin")
    email = serializers.EmailField()
    password = serializers.CharField(min_length=8, max_length=128, write_only=True, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = get_user_model()(username=attrs["username"], email=attrs["email"])
        try:
            validate_password(attrs["password"], user=user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": exc.messages}) from exc
        return attrs


class TenantCreateInput(serializers.Serializer[dict[str, Any]]):
    slug = serializers.RegexField(
        SLUG_PATTERN, max_length=40, help_text="Also the schema and host name: 2-40 of a-z, 0-9, _ ."
    )
    name = serializers.CharField(max_length=200)
    timezone = serializers.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Africa/Lagos.")
    currency = serializers.RegexField(r"^[A-Z]{3}$", default="USD", help_text="ISO 4217 code of its default currency.")
    staff = StaffInput(help_text="The tenant's first staff user (superuser of its admin).")
    domains = serializers.ListField(
        child=serializers.RegexField(HOST_PATTERN.pattern, max_length=253),
        default=list,
        max_length=10,
        help_text="Extra host names besides <slug>.<BASE_DOMAIN>.",
    )

    def validate_domains(self, domains: list[str]) -> list[str]:
        for domain in domains:
            if not HOST_PATTERN.fullmatch(domain):
                raise serializers.ValidationError(f"{domain!r} is not a host name.")
        if len(set(domains)) != len(domains):
            raise serializers.ValidationError("Each host name may appear once.")
        return domains


class TenantSuspendInput(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(max_length=500, allow_blank=True, default="")


class TenantOutput(serializers.ModelSerializer[Tenant]):
    slug = serializers.CharField(source="schema_name")
    currency = serializers.CharField(source="default_currency")
    domains = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = [
            "slug",
            "name",
            "status",
            "timezone",
            "currency",
            "domains",
            "created_at",
            "suspended_at",
            "suspension_reason",
        ]
        read_only_fields = fields

    def get_domains(self, tenant: Tenant) -> list[str]:
        """Host names, the primary one first."""
        domains = sorted(tenant.domains.all(), key=lambda domain: (not domain.is_primary, domain.domain))
        return [domain.domain for domain in domains]
