from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("migration_fixture", "0001_initial")]
    operations = [
        AddIndexConcurrently(model_name="meter", index=models.Index(fields=["reading"], name="meter_reading_idx")),
        migrations.AddConstraint(
            model_name="meter",
            constraint=models.CheckConstraint(condition=models.Q(reading__gte=0), name="meter_reading_not_negative"),
        ),
    ]
