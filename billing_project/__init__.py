"""DotMac Billing back office: project package and version constants (ARCHITECTURE.md §6)."""

API_VERSION = "v1"
SDK_VERSION = "1.0.0"
PLATFORM_API_VERSION = "1.0"
PLATFORM_COMPATIBLE_VERSIONS = ["1.0", "1.1"]
MIN_PLATFORM_VERSION = "1.0"

# Load the Celery app whenever Django loads, so @shared_task binds to it (broker, tenant-aware
# task class and schema-switching signals) in web processes too.
from billing_project.celery import app as celery_app  # noqa: E402

__all__ = [
    "API_VERSION",
    "MIN_PLATFORM_VERSION",
    "PLATFORM_API_VERSION",
    "PLATFORM_COMPATIBLE_VERSIONS",
    "SDK_VERSION",
    "celery_app",
]
