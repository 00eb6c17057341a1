"""The product's settings with the benchmark's URL conf (which adds the baseline view)."""

from billing_project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_site.urls"
PUBLIC_SCHEMA_URLCONF = "bench.api_site.urls"
