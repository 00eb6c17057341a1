from django.apps import AppConfig


class DunningConfig(AppConfig):
    name = "apps.dunning"
    label = "dunning"
    verbose_name = "Dunning"

    def ready(self) -> None:
        from apps.dunning import handlers  # noqa: F401 - registers in-transaction event handlers
