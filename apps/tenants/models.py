"""Tenants live in the public schema; each one's billing data lives in its own schema."""

from __future__ import annotations

import uuid
import zoneinfo

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.postgresql_backend.base import _check_schema_name
from django_tenants.utils import get_creation_fakes_migrations, schema_exists

from apps.core.api.principal import Role
from apps.core.tenancy import use_public_schema
from apps.tenants.cloning import schema_clone

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

    def create_schema(self, check_if_exists: bool = False, sync_schema: bool = True, verbosity: int = 1) -> bool:
        """Clone the template schema with `apps.tenants.cloning` (django-tenants' clone slows down
        with every tenant); without a template, django-tenants' CREATE SCHEMA + migrate."""
        template = self.get_base_schema() if get_creation_fakes_migrations() else None
        if not (sync_schema and template and schema_exists(template)):
            # django-tenants answers False when the schema existed, None when it made it.
            return (
                super().create_schema(check_if_exists=check_if_exists, sync_schema=sync_schema, verbosity=verbosity)
                is not False
            )
        _check_schema_name(self.schema_name)
        if check_if_exists and schema_exists(self.schema_name):
            return False
        # The template's django_migrations rows come along: nothing is pending, nothing to fake.
        schema_clone(template=template, target=self.schema_name)
        use_public_schema()
        return True

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


class ApiKeyScope(models.TextChoices):
    READ = "read", "Read only"
    READ_WRITE = "read_write", "Read and write"


# The roles each scope grants (billing.admin actions need a platform token).
API_KEY_SCOPE_ROLES: dict[str, frozenset[str]] = {
    ApiKeyScope.READ: frozenset({Role.BILLING_READ}),
    ApiKeyScope.READ_WRITE: frozenset({Role.BILLING_READ, Role.BILLING_WRITE}),
}


class ApiKey(models.Model):
    """A tenant's server-to-server credential `bk_<prefix>_<secret>`; only its SHA-256 is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What uses this key, e.g. 'CRM sync'.")
    prefix = models.CharField(max_length=12, unique=True, help_text="Public part of the key, to recognise it.")
    key_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=16, choices=ApiKeyScope.choices, default=ApiKeyScope.READ)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(condition=models.Q(scope__in=ApiKeyScope.values), name="api_key_scope_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (bk_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def roles(self) -> frozenset[str]:
        return API_KEY_SCOPE_ROLES[self.scope]


class IdempotencyRecord(models.Model):
    """The stored answer to a POST made with an Idempotency-Key, per (tenant, caller, key).

    It is written in the same transaction as the request's effect, so it exists exactly
    when the effect does; a concurrent duplicate blocks on the unique index until then.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    caller = models.CharField(max_length=300, help_text="user:<token sub> or key:<api key id>")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and canonical body.")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_headers = models.JSONField(default=dict)
    response_body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "caller", "key"], name="idempotency_key_unique_per_caller"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class MigrationRunKind(models.TextChoices):
    MIGRATE = "migrate", "Migrate"
    REVERSE = "reverse", "Reverse"
    RESTORE = "restore", "Restore"


class MigrationRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REFUSED = "refused", "Refused (unsafe migrations)"


class MigrationRun(models.Model):
    """One `safe_migrate` (or `restore_tenant`) run over the schemas: who, when, what, how it ended."""

    kind = models.CharField(max_length=16, choices=MigrationRunKind.choices, default=MigrationRunKind.MIGRATE)
    status = models.CharField(max_length=16, choices=MigrationRunStatus.choices, default=MigrationRunStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    operator = models.CharField(max_length=200, help_text="OS user and host that ran the command.")
    command = models.TextField(blank=True)
    parallel = models.PositiveSmallIntegerField(default=1)
    target = models.CharField(max_length=200, blank=True, help_text="`app migration` of a reversal.")
    allow_unsafe_reason = models.TextField(blank=True)
    lint_findings = models.JSONField(default=list, blank=True)
    backup_dir = models.CharField(max_length=500, blank=True)
    schemas_total = models.PositiveIntegerField(default=0)
    schemas_failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=MigrationRunStatus.values), name="migration_run_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=MigrationRunKind.values), name="migration_run_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.kind}, {self.status})"


class SchemaKind(models.TextChoices):
    PUBLIC = "public", "Public"
    TEMPLATE = "template", "Template"
    TENANT = "tenant", "Tenant"


class MigrationResultStatus(models.TextChoices):
    MIGRATED = "migrated", "Migrated"
    CURRENT = "current", "Already current"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (run stopped)"
    RESTORED = "restored", "Restored from a backup"


class MigrationTenantResult(models.Model):
    """What one run did to one schema (public, the template or a tenant)."""

    run = models.ForeignKey(MigrationRun, on_delete=models.CASCADE, related_name="results")
    schema_name = models.CharField(max_length=63)
    schema_kind = models.CharField(max_length=16, choices=SchemaKind.choices)
    status = models.CharField(max_length=16, choices=MigrationResultStatus.choices)
    versions_before = models.JSONField(default=dict, blank=True, help_text="Latest applied migration per app.")
    versions_after = models.JSONField(default=dict, blank=True)
    migrations = models.JSONField(default=list, blank=True, help_text="Migrations applied (or unapplied).")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_seconds = models.FloatField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    backup_path = models.CharField(max_length=500, blank=True)
    restored = models.CharField(
        max_length=32, blank=True, help_text="How a failure was undone: rollback, backup, or why it could not be."
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "schema_name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "schema_name"], name="migration_result_once_per_schema"),
            models.CheckConstraint(
                condition=models.Q(status__in=MigrationResultStatus.values), name="migration_result_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schema_name}: {self.status}"


class TenantMetrics(models.Model):
    """One tenant's aggregates behind the /metrics database gauges (billing_project.observability.db_gauges).

    Beat refreshes each active tenant's row every METRICS_REFRESH_SECONDS (one statement reads the
    tenant's schema and upserts here); a scrape reads every row in one statement, whatever the
    number of tenants. `rows` holds one object per (section, label1, label2): `value` is the
    amount as a JSON string (exact: read it as numeric or Decimal, never as float), `count` an
    integer, `oldest_at` a timestamp (ages are computed when read). No database foreign key: a
    tenant removed by plain SQL leaves a row that every read ignores and the next refresh deletes.
    """

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, db_constraint=False, related_name="+"
    )
    refreshed_at = models.DateTimeField(help_text="When the tenant's schema was last read.")
    refresh_seconds = models.FloatField(default=0, help_text="How long that statement took.")
    rows = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "tenant metrics summary"
        verbose_name_plural = "tenant metrics summaries"

    def __str__(self) -> str:
        return f"metrics of tenant {self.tenant_id} at {self.refreshed_at:%Y-%m-%d %H:%M:%S}"
