from django.db import migrations


def create_sequence_row(apps, schema_editor):
    apps.get_model("events", "EventSequence").objects.get_or_create(id=1, defaults={"value": 0})


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]
    operations = [migrations.RunPython(create_sequence_row, migrations.RunPython.noop)]
