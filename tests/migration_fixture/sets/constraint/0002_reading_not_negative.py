from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("migration_fixture", "0001_initial")]
    operations = [
        migrations.AddConstraint(
            model_name="meter",
            constraint=models.CheckConstraint(condition=models.Q(reading__gte=0), name="meter_reading_not_negative"),
        ),
    ]
