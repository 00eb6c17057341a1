from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PaymentsConfig(AppConfig):
    name = "apps.payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from apps.payments import handlers  # noqa: F401 - registers in-transaction event handlers
        from apps.payments.roles import create_role_groups_after_migrate

        # Set-up, not business logic: every migrated tenant schema gets the finance role groups.
        post_migrate.connect(create_role_groups_after_migrate, sender=self, dispatch_uid="payments.role_groups")
