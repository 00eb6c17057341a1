from django.apps import AppConfig


class DunningConfig(AppConfig):
    name = "apps.dunning"
    label = "dunning"
    verbose_name = "Dunning"
