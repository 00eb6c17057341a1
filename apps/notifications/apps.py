from django.apps import AppConfig
from django.db.models.signals import post_migrate


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Notifications sit above accounts, invoices and payments: they listen to their
        # events here (lower apps never import us), and to provider callbacks (anymail).
        from apps.notifications import callbacks, handlers
        from apps.notifications.roles import grant_after_migrate

        handlers.subscribe_all()
        callbacks.connect_signals()
        post_migrate.connect(grant_after_migrate, sender=self, dispatch_uid="notifications.role_permissions")
