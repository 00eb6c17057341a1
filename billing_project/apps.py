from django.apps import AppConfig


class BillingProjectConfig(AppConfig):
    """The project itself as an app: commands that wire several apps together (demo data)."""

    name = "billing_project"
    label = "billing_project"
    verbose_name = "DotMac Billing"
