"""What the finance roles (apps.payments.roles) may do with notifications.

The payments app resets its three groups to exactly its ledger permissions after every
migrate of a tenant schema; this receiver runs after it (notifications is installed later)
and adds ours, so the payments app never needs to know about notifications.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS

from apps.core.roles import grant_after_tenant_migrate, grant_role_permissions

VIEW = ["view_notification", "view_notificationtemplate", "view_notificationpreference"]
CLERK = [*VIEW, "resend_notification", "add_notificationpreference", "change_notificationpreference"]
MANAGER = [*CLERK, "add_notificationtemplate", "change_notificationtemplate", "delete_notificationtemplate"]
NOTIFICATION_PERMISSIONS = {"Finance Clerk": CLERK, "Finance Manager": MANAGER, "Auditor": VIEW}


def grant_notification_permissions(*, apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    grant_role_permissions("notifications", NOTIFICATION_PERMISSIONS, apps=apps, using=using)


# post_migrate receiver: tenant schemas (and the template) only.
grant_after_migrate = grant_after_tenant_migrate("notifications", NOTIFICATION_PERMISSIONS)
