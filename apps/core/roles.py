"""An app's share of the finance roles: its permissions added to the role groups.

apps.payments.roles makes the three groups (Finance Clerk, Finance Manager, Auditor) and resets
them to exactly the ledger's permissions after every migrate of a tenant schema. Apps installed
after it (dunning, notifications) add their own permissions from a post_migrate receiver made
here, so the payments app never needs to know about them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS
from django_tenants.utils import get_public_schema_name

from apps.core.tenancy import current_schema


def grant_role_permissions(
    app_label: str,
    role_permissions: Mapping[str, Iterable[str]],
    *,
    apps: Any = global_apps,
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """Add `app_label`'s permissions (codenames by group name) to the groups that exist."""
    create_permissions(global_apps.get_app_config(app_label), verbosity=0, using=using, apps=apps)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, codenames in role_permissions.items():
        group = group_model.objects.using(using).filter(name=name).first()
        if group is None:
            continue
        permissions = permission_model.objects.using(using).filter(
            content_type__app_label=app_label, codename__in=list(codenames)
        )
        group.permissions.add(*permissions)


def grant_after_tenant_migrate(app_label: str, role_permissions: Mapping[str, Iterable[str]]) -> Callable[..., None]:
    """A post_migrate receiver granting them in tenant schemas (and the template), never public.

    Connect it with `sender=<the app's config>` so it runs after payments' receiver
    (INSTALLED_APPS order), once the groups exist.
    """

    def grant_after_migrate(sender: Any, *, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
        if current_schema() == get_public_schema_name():
            return
        grant_role_permissions(app_label, role_permissions, apps=kwargs.get("apps") or global_apps, using=using)

    return grant_after_migrate
