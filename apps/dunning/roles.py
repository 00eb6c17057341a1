"""Dunning's share of the finance roles (the groups are made by apps.payments.roles).

Run after every migrate of a tenant schema (and the template), after the payments app has
(re)set the groups: every role reads dunning, clerks and managers pause and resume cases,
managers edit policies and assignments.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS
from django_tenants.utils import get_public_schema_name

from apps.core.tenancy import current_schema

VIEW = [
    "view_dunningpolicy",
    "view_dunningstep",
    "view_dunningminimum",
    "view_dunningassignment",
    "view_dunningcase",
    "view_dunningaction",
    "view_dunningrun",
]
EDIT = [
    f"{verb}_{model}"
    for model in ("dunningpolicy", "dunningstep", "dunningminimum", "dunningassignment")
    for verb in ("add", "change", "delete")
]
ROLE_PERMISSIONS = {
    "Auditor": VIEW,
    "Finance Clerk": [*VIEW, "pause_dunningcase"],
    "Finance Manager": [*VIEW, "pause_dunningcase", *EDIT],
}


def grant_dunning_permissions(*, apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    create_permissions(global_apps.get_app_config("dunning"), verbosity=0, using=using, apps=apps)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, codenames in ROLE_PERMISSIONS.items():
        group = group_model.objects.using(using).filter(name=name).first()
        if group is None:
            continue
        perms = permission_model.objects.using(using).filter(content_type__app_label="dunning", codename__in=codenames)
        group.permissions.add(*perms)


def grant_after_migrate(sender: Any, *, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    if current_schema() == get_public_schema_name():
        return
    grant_dunning_permissions(apps=kwargs.get("apps") or global_apps, using=using)
