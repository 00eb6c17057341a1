from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("migration_fixture", "0001_initial")]
    operations = [
        migrations.AddField(
            model_name="meter", name="serial", field=models.IntegerField(default=0), preserve_default=False
        ),
        migrations.AddIndex(model_name="meter", index=models.Index(fields=["reading"], name="meter_reading_idx")),
    ]
