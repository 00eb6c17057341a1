"""Domain errors of tenant provisioning."""


class TenantError(Exception):
    """Base of every tenant provisioning error; its message is shown to the operator as is."""


class InvalidTenant(TenantError):
    """The requested tenant data is not acceptable (slug, currency, timezone...)."""


class TenantExists(TenantError):
    """A tenant with that slug (or a domain with that host) already exists."""


class TemplateNotCloneable(TenantError):
    """The template schema holds something a clone would not reproduce exactly (a view, a trigger...)."""
