"""What the finance roles (apps.payments.roles) may do with notifications.

The payments app resets its three groups to exactly its ledger permissions after every
migrate of a tenant schema; this receiver runs after it (notifications is installed later)
and adds ours, so the payments app never needs to know about notifications.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS
from django_tenants.utils import get_public_schema_name

from apps.core.tenancy import current_schema

VIEW = ["view_notification", "view_notificationtemplate", "view_notificationpreference"]
CLERK = [*VIEW, "resend_notification", "add_notificationpreference", "change_notificationpreference"]
MANAGER = [*CLERK, "add_notificationtemplate", "change_notificationtemplate", "delete_notificationtemplate"]
NOTIFICATION_PERMISSIONS = {"Finance Clerk": CLERK, "Finance Manager": MANAGER, "Auditor": VIEW}


def grant_notification_permissions(*, apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    create_permissions(global_apps.get_app_config("notifications"), verbosity=0, using=using, apps=apps)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, codenames in NOTIFICATION_PERMISSIONS.items():
        group = group_model.objects.using(using).filter(name=name).first()
        if group is None:
            continue
        permissions = permission_model.objects.using(using).filter(
            content_type__app_label="notifications", codename__in=codenames
        )
        group.permissions.add(*permissions)


def grant_after_migrate(sender: Any, *, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate receiver: tenant schemas (and the template) only."""
    if current_schema() == get_public_schema_name():
        return
    grant_notification_permissions(apps=kwargs.get("apps") or global_apps, using=using)
