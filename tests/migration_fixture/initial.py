"""The fixture app's first migration, shared by every set: one small table of meter readings."""

from django.db import migrations, models


class InitialMigration(migrations.Migration):
    initial = True
    operations = [
        migrations.CreateModel(
            name="Meter",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("reading", models.IntegerField()),
                ("note", models.CharField(max_length=100, default="")),
            ],
        ),
    ]
