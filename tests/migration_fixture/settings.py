"""The project's settings plus the migration fixture app (a tenant app); for test subprocesses only."""

import os

from billing_project.settings import *  # noqa: F403
from billing_project.settings import INSTALLED_APPS, TENANT_APPS

FIXTURE_APP = "tests.migration_fixture"
TENANT_APPS = [*TENANT_APPS, FIXTURE_APP]
INSTALLED_APPS = [*INSTALLED_APPS, FIXTURE_APP]
MIGRATION_MODULES = {
    "migration_fixture": f"tests.migration_fixture.sets.{os.environ.get('MIGRATION_FIXTURE_SET', 'constraint')}"
}
