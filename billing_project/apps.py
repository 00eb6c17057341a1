from django.apps import AppConfig


class BillingProjectConfig(AppConfig):
    """The project itself as an app: what wires several apps together (demo data, observability)."""

    name = "billing_project"
    label = "billing_project"
    verbose_name = "DotMac Billing"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django_structlog import signals as structlog_signals

        from apps.events.services import on_published
        from billing_project.dbtypes import use_compiled_timestamptz_loader
        from billing_project.observability import logs
        from billing_project.observability.business import count_after_commit
        from billing_project.observability.db import install_query_metrics

        connection_created.connect(install_query_metrics, dispatch_uid="observability.query_metrics")
        connection_created.connect(use_compiled_timestamptz_loader, dispatch_uid="dbtypes.timestamptz")
        on_published(count_after_commit)
        structlog_signals.bind_extra_request_metadata.connect(
            logs.bind_request_id, dispatch_uid="observability.request_id"
        )
        structlog_signals.bind_extra_request_finished_metadata.connect(
            logs.bind_request_subject, dispatch_uid="observability.request_subject"
        )
