from django.apps import AppConfig


class MigrationFixtureConfig(AppConfig):
    name = "tests.migration_fixture"
    label = "migration_fixture"
    default_auto_field = "django.db.models.BigAutoField"
