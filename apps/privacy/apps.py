from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """Data protection: the export and anonymisation of a person's data, and their audit trail.

    It sits on top of the billing apps (it reads and erases across accounts, invoices,
    payments, and notifications / dunning when present); nothing imports it but the URL conf.
    """

    name = "apps.privacy"
    label = "privacy"
    verbose_name = "Data protection"
