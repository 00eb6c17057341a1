"""The finance roles, as auth groups in every tenant schema.

The admin shows and hides pages and actions from these permissions, and the services refuse
what a role may not do (`apps.core.actors.require_permission`), so a role is enforced twice.
The three groups are managed here: `ensure_role_groups()` sets each one's permissions to
exactly this list (make another group for a variation). It runs after every migrate of a
tenant schema (and of the template schema new tenants are cloned from).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS
from django_tenants.utils import get_public_schema_name

from apps.core.tenancy import current_schema

FINANCE_CLERK = "Finance Clerk"
FINANCE_MANAGER = "Finance Manager"
AUDITOR = "Auditor"

LEDGER_APPS = ("accounts", "invoices", "payments")

VIEW_ALL = [
    "accounts.view_account",
    "accounts.view_billingsettings",
    "invoices.view_invoice",
    "invoices.view_invoiceline",
    "invoices.view_taxrate",
    "invoices.view_creditnote",
    "invoices.view_creditapplication",
    "payments.view_payment",
    "payments.view_paymentallocation",
    "payments.view_refund",
]
CLERK = [
    *VIEW_ALL,
    "accounts.add_account",
    "accounts.change_account",
    "invoices.add_invoice",
    "invoices.change_invoice",  # edit drafts; finalized invoices are frozen by the service
    "invoices.delete_invoice",  # delete drafts only (the service refuses anything else)
    "invoices.finalize_invoice",  # finalize and send
    "payments.add_payment",  # record payments, apply credit
]
MANAGER = [
    *CLERK,
    "accounts.suspend_account",
    "accounts.delete_account",  # close accounts
    "accounts.change_billingsettings",
    "invoices.void_invoice",
    "invoices.write_off_invoice",
    "invoices.issue_credit_note",
    "invoices.add_taxrate",
    "invoices.change_taxrate",
    "payments.refund_payment",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {FINANCE_CLERK: CLERK, FINANCE_MANAGER: MANAGER, AUDITOR: VIEW_ALL}


def ensure_role_groups(*, apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create (or reset) the three role groups in the current schema with their permissions."""
    for label in LEDGER_APPS:
        # post_migrate creates permissions app by app; make sure ours exist whatever the order.
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using, apps=apps)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, perms in ROLE_PERMISSIONS.items():
        wanted = {tuple(perm.split(".", 1)) for perm in perms}
        found = [
            permission
            for permission in permission_model.objects.using(using)
            .filter(content_type__app_label__in=LEDGER_APPS)
            .select_related("content_type")
            if (permission.content_type.app_label, permission.codename) in wanted
        ]
        missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
        if missing:
            raise LookupError(f"role {name!r} names unknown permissions: {sorted(missing)}")
        group, _ = group_model.objects.using(using).get_or_create(name=name)
        group.permissions.set(found)


def create_role_groups_after_migrate(sender: Any, *, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate receiver: tenant schemas (and the template) get the role groups."""
    if current_schema() == get_public_schema_name():
        return
    ensure_role_groups(apps=kwargs.get("apps") or global_apps, using=using)
