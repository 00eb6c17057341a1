from tests.migration_fixture.initial import InitialMigration


class Migration(InitialMigration):
    pass
