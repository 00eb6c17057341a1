"""Dunning's share of the finance roles (the groups are made by apps.payments.roles).

Run after every migrate of a tenant schema (and the template), after the payments app has
(re)set the groups: every role reads dunning, clerks and managers pause and resume cases,
managers edit policies and assignments.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS

from apps.core.roles import grant_after_tenant_migrate, grant_role_permissions

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
    grant_role_permissions("dunning", ROLE_PERMISSIONS, apps=apps, using=using)


grant_after_migrate = grant_after_tenant_migrate("dunning", ROLE_PERMISSIONS)
