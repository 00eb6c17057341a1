from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from simple_history.signals import pre_create_historical_record

        from apps.core.api.audit import record_api_principal

        pre_create_historical_record.connect(record_api_principal, dispatch_uid="core.record_api_principal")
