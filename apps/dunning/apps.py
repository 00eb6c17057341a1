from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DunningConfig(AppConfig):
    name = "apps.dunning"
    label = "dunning"
    verbose_name = "Dunning"

    def ready(self) -> None:
        from apps.dunning import handlers  # noqa: F401 - registers in-transaction event handlers
        from apps.dunning.roles import grant_after_migrate

        # After payments' post_migrate (INSTALLED_APPS order) has made the role groups.
        post_migrate.connect(grant_after_migrate, sender=self, dispatch_uid="dunning.role_permissions")
