"""A new tenant starts usable: one default (exclusive) VAT rate, prefilled in the admin."""

from decimal import Decimal

from django.db import migrations


def create_default_rate(apps, schema_editor):
    TaxRate = apps.get_model("invoices", "TaxRate")
    if not TaxRate.objects.exists():
        TaxRate.objects.create(name="VAT", percentage=Decimal("7.5"), inclusive=False, is_default=True)


class Migration(migrations.Migration):
    dependencies = [("invoices", "0001_initial")]
    operations = [migrations.RunPython(create_default_rate, migrations.RunPython.noop)]
