"""New tenants are cloned from the template schema: exactly what migrations would have built, rows included."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import DataError, connection
from django_tenants.utils import schema_context, schema_exists

from apps.accounts.models import BillingSettings
from apps.core.tenancy import use_public_schema
from apps.tenants.exceptions import TemplateNotCloneable
from apps.tenants.models import Domain, Tenant
from apps.tenants.services import tenant_create
from apps.tenants.template import pending_migrations, template_schema_name
from tests.tenants.schema_shape import SHAPE_QUERIES, schema_shape

# Tables whose rows the template gets from migrations (post_migrate and data migrations).
SEEDED_TABLES = {
    "django_migrations",
    "django_content_type",
    "auth_permission",
    "accounts_billingsettings",
    "events_eventsequence",
    "invoices_taxrate",
}


def template_rows(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of `schema`, in a stable order."""
    rows = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT * FROM "{schema}"."{table}"')
            rows[table] = sorted(cursor.fetchall(), key=repr)
    return rows


def test_a_cloned_schema_equals_a_freshly_migrated_one(committed_tenant: Tenant, django_db_blocker: Any) -> None:
    """Committed, since some migrations cannot run in a transaction (AddIndexConcurrently)."""
    with django_db_blocker.unblock():
        use_public_schema()
        with connection.cursor() as cursor:
            cursor.execute("CREATE SCHEMA migrated_reference")
        try:
            call_command("migrate_schemas", "--tenant", "-s", "migrated_reference", interactive=False, verbosity=0)
            cloned, migrated = schema_shape(committed_tenant.schema_name), schema_shape("migrated_reference")
            assert pending_migrations(committed_tenant.schema_name) == []
        finally:
            use_public_schema()
            with connection.cursor() as cursor:
                cursor.execute("DROP SCHEMA migrated_reference CASCADE")

    for part in SHAPE_QUERIES:
        assert cloned[part] == migrated[part], part
    # Names later migrations drop by, as Django chose them (LIKE ... INCLUDING INDEXES alone
    # would have named these `auth_permission_content_type_id_codename_key` and so on).
    assert (
        "auth_permission",
        "auth_permission_content_type_id_codename_01ab375a_uniq",
        "u",
        "UNIQUE (content_type_id, codename)",
    ) in cloned["constraints"]
    assert (
        "auth_permission",
        "auth_permission_content_type_id_2f476e4b",
        "CREATE INDEX auth_permission_content_type_id_2f476e4b ON <schema>.auth_permission "
        "USING btree (content_type_id)",
    ) in cloned["indexes"]
    # PostgreSQL 15's LIKE ... INCLUDING IDENTITY alone would make this one a bigint sequence.
    permission_sequence = next(row for row in cloned["sequences"] if row[0] == "auth_permission_id_seq")
    assert permission_sequence[1:8] == ("integer", 1, 1, 2147483647, 1, False, 1)


@pytest.mark.django_db
def test_the_clone_holds_the_templates_rows() -> None:
    tenant_create(slug="copied", name="Copied")
    template, copied = template_rows(template_schema_name()), template_rows("copied")
    assert copied == template
    assert {table for table, rows in copied.items() if rows} >= SEEDED_TABLES
    with schema_context("copied"):
        assert BillingSettings.objects.count() == 1


@pytest.mark.django_db
def test_identity_sequences_continue_after_the_copied_rows() -> None:
    tenant_create(slug="counting", name="Counting")
    template = template_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT max(id) FROM "{template}".auth_permission')
        last_permission = cursor.fetchone()[0]
        cursor.execute(f'SELECT last_value FROM "{template}".auth_permission_id_seq')
        template_sequence = cursor.fetchone()[0]

    with schema_context("counting"):
        content_type = ContentType.objects.create(app_label="reports", model="export")
        permission = Permission.objects.create(codename="export", name="Can export", content_type=content_type)
        first_user = get_user_model().objects.create_user("clerk")
    assert permission.pk == last_permission + 1
    assert first_user.pk == 1  # an empty table's sequence starts afresh

    with connection.cursor() as cursor:
        # The clone owns its sequences: the template's has not moved.
        cursor.execute(f'SELECT last_value FROM "{template}".auth_permission_id_seq')
        assert cursor.fetchone()[0] == template_sequence
        cursor.execute("SELECT pg_get_serial_sequence('counting.auth_permission', 'id')")
        assert cursor.fetchone()[0] == "counting.auth_permission_id_seq"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ddl", "reason"),
    [
        (
            "ALTER TABLE {template}.invoices_taxrate ADD COLUMN legacy_id serial",
            r"default value for column legacy_id of table (\S+\.)?invoices_taxrate calls nextval\(\) on the "
            r"template's sequence invoices_taxrate_legacy_id_seq \(a serial column\)",
        ),
        ("CREATE VIEW {template}.open_invoices AS SELECT 1 AS one", r"view (\S+\.)?open_invoices"),
        (
            "CREATE FUNCTION {template}.rates() RETURNS bigint LANGUAGE sql"
            " AS 'SELECT count(*) FROM {template}.invoices_taxrate'",
            r"function rates\(\) names the template schema in its definition",
        ),
        (
            "CREATE FUNCTION {template}.nothing() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';"
            " CREATE TRIGGER quiet AFTER INSERT ON {template}.invoices_taxrate"
            " FOR EACH ROW EXECUTE FUNCTION {template}.nothing();"
            " ALTER TABLE {template}.invoices_taxrate DISABLE TRIGGER quiet",
            r"trigger quiet on table (\S+\.)?invoices_taxrate \(disabled or replica/always\)",
        ),
        (
            "ALTER TABLE {template}.invoices_taxrate ADD CONSTRAINT rate_small CHECK (percentage < 50) NOT VALID",
            r"constraint rate_small on table (\S+\.)?invoices_taxrate \(NOT VALID\)",
        ),
    ],
)
def test_a_template_holding_what_a_clone_would_not_reproduce_is_refused(ddl: str, reason: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(ddl.format(template=template_schema_name()))
    with pytest.raises(TemplateNotCloneable, match=reason):
        tenant_create(slug="refused", name="Refused")
    assert not schema_exists("refused")
    assert not Tenant.objects.filter(schema_name="refused").exists()
    assert not Domain.objects.filter(domain__startswith="refused.").exists()


def test_without_a_template_the_new_schema_is_migrated(
    django_db_setup: None, django_db_blocker: Any, settings: Any
) -> None:
    """django-tenants' behaviour when there is nothing to clone: CREATE SCHEMA, then migrate
    (committed, as some migrations cannot run in a transaction)."""
    settings.TENANT_BASE_SCHEMA = "absent_template"
    with django_db_blocker.unblock():
        use_public_schema()
        tenant = Tenant(schema_name="unpatterned", name="Unpatterned")
        tenant.save(verbosity=0)
        try:
            assert pending_migrations("unpatterned") == []
            with schema_context("unpatterned"):
                assert BillingSettings.objects.count() == 1
        finally:
            use_public_schema()
            tenant.delete(force_drop=True)


def test_a_creation_failing_at_its_last_step_leaves_nothing_behind(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    """Committed, not in a test transaction. The template holds a row past its identity
    sequence's MAXVALUE, so the clone fails at its very last step (moving the sequences past
    the copied rows), after every table, index, row and key was made; none of it remains."""
    template = template_schema_name()
    with django_db_blocker.unblock():
        use_public_schema()
        with connection.cursor() as cursor:
            cursor.execute(
                f'CREATE TABLE "{template}".zz_probe '
                "(id int GENERATED BY DEFAULT AS IDENTITY (MAXVALUE 10) PRIMARY KEY)"
            )
            cursor.execute(f'INSERT INTO "{template}".zz_probe VALUES (50)')
        try:
            with pytest.raises(
                DataError, match=r'value 50 is out of bounds for sequence "zz_probe_id_seq" \(1\.\.10\)'
            ):
                tenant_create(slug="halfway", name="Halfway")
            use_public_schema()
            assert not schema_exists("halfway")
            assert not Tenant.objects.filter(schema_name="halfway").exists()
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP TABLE "{template}".zz_probe')

        tenant = tenant_create(slug="halfway", name="Halfway")
        try:
            assert pending_migrations("halfway") == []
        finally:
            use_public_schema()
            tenant.delete(force_drop=True)
