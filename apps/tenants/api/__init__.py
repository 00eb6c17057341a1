"""The platform API's authentication (platform tokens, API keys), idempotency and `tenants/`."""
