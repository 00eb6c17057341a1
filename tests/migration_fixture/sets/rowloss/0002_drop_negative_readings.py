from django.db import migrations


def drop_negative_readings(apps, schema_editor):
    apps.get_model("migration_fixture", "Meter").objects.filter(reading__lt=0).delete()


class Migration(migrations.Migration):
    # Deliberately no `changes_row_counts = True`: validation must catch the lost rows.
    dependencies = [("migration_fixture", "0001_initial")]
    operations = [migrations.RunPython(drop_negative_readings, migrations.RunPython.noop)]
