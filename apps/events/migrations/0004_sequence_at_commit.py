"""Number events at commit time (a deferred constraint trigger), not under a lock held from the
first publish() to the commit. See `apps.events.models.EventSequence` and docs/events.md.
"""

from django.db import migrations, models

# Runs in each tenant schema (django-tenants puts it first in the search_path), so the
# function and the trigger are created there. The function names its tables through
# TG_TABLE_SCHEMA, never the search_path: a transaction may publish in one tenant and
# switch schema (use_public_schema) before it commits.
CREATE_SQL = """
CREATE FUNCTION events_event_number_at_commit() RETURNS trigger LANGUAGE plpgsql AS $function$
DECLARE
    next_value bigint;
BEGIN
    -- The counter row lock is taken here, at commit, and released when the commit ends:
    -- the next committing transaction waits for it, so numbers follow commit order.
    EXECUTE format('UPDATE %I.events_eventsequence SET value = value + 1 WHERE id = 1 RETURNING value',
                   TG_TABLE_SCHEMA)
        INTO next_value;
    IF next_value IS NULL THEN
        EXECUTE format('INSERT INTO %I.events_eventsequence AS counter (id, value) VALUES (1, 1)'
                       ' ON CONFLICT (id) DO UPDATE SET value = counter.value + 1 RETURNING counter.value',
                       TG_TABLE_SCHEMA)
            INTO next_value;
    END IF;
    EXECUTE format('UPDATE %I.%I SET sequence = $1 WHERE id = $2', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        USING next_value, NEW.id;
    RETURN NULL;
END
$function$;

CREATE CONSTRAINT TRIGGER events_event_number_at_commit
    AFTER INSERT ON events_event
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.sequence IS NULL)
    EXECUTE FUNCTION events_event_number_at_commit();
"""

DROP_SQL = """
DROP TRIGGER events_event_number_at_commit ON events_event;
DROP FUNCTION events_event_number_at_commit();
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0003_webhooks")]

    operations = [
        migrations.AlterField(model_name="event", name="sequence", field=models.BigIntegerField(null=True, unique=True)),
        migrations.RunSQL(CREATE_SQL, DROP_SQL),
    ]
