"""A new tenant starts usable: its billing settings row (numbering ACC/INV/CN, terms) exists."""

from django.db import migrations


def create_settings(apps, schema_editor):
    apps.get_model("accounts", "BillingSettings").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_settings, migrations.RunPython.noop)]
