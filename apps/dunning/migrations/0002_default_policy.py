"""A new tenant starts with the default dunning policy (ARCHITECTURE.md §2).

Created in the template schema by migration, so every tenant cloned from it has the policy
too (the cloner copies rows): email reminder D+1, SMS D+7, suspend D+14, write-off D+60, no
minimum overdue amount.
"""

from django.db import migrations

DEFAULT_STEPS = [(1, "email_reminder"), (7, "sms_reminder"), (14, "suspend_account"), (60, "write_off")]


def create_default_policy(apps, schema_editor):
    policy_model = apps.get_model("dunning", "DunningPolicy")
    step_model = apps.get_model("dunning", "DunningStep")
    if policy_model.objects.filter(is_default=True).exists():
        return
    policy = policy_model.objects.create(
        name="Standard",
        description="Email reminder D+1, SMS D+7, suspend D+14, write off D+60.",
        is_default=True,
        catch_up="latest",
    )
    step_model.objects.bulk_create(
        [step_model(policy=policy, offset_days=offset, action=action) for offset, action in DEFAULT_STEPS]
    )


class Migration(migrations.Migration):
    dependencies = [("dunning", "0001_initial")]
    operations = [migrations.RunPython(create_default_policy, migrations.RunPython.noop)]
