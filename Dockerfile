# syntax=docker/dockerfile:1
# One image for every process of billing: web, worker, beat and the migration job, chosen by
# the command (deploy/docker/entrypoint.sh): `web`, `worker`, `beat`, `migrate`, or any
# other command as given (`python manage.py provision_tenant ...`).
# No secret is baked in: every setting comes from the environment at run time
# (ARCHITECTURE.md §5, .env.example); the build's collectstatic runs with throwaway values.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- base: the system libraries WeasyPrint (invoice PDFs) loads, and the non-root user ----
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# Debian's security updates land in these packages between point releases: pinning exact
# versions would freeze them, so the image takes the release's current ones.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
        postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 billing \
    && useradd --system --uid 10001 --gid billing --home-dir /app --shell /usr/sbin/nologin billing

# --- build: dependencies in a virtualenv, translations compiled, static files collected ----
FROM base AS build
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
WORKDIR /app
COPY . /app
# collectstatic in production mode (the manifest storage the app serves with), with
# values that exist only for this one command and are not kept in the image.
RUN python manage.py compile_translations \
    && DJANGO_ENV=production \
       SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
       PLATFORM_JWT_SECRET="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
       DATABASE_URL=postgres://build@127.0.0.1:1/build \
       REDIS_URL=redis://127.0.0.1:1/0 \
       BASE_DOMAIN=build.invalid \
       python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q apps billing_project

# --- runtime -------------------------------------------------------------------------------
FROM base AS runtime
LABEL org.opencontainers.image.title="dotmac-billing" \
      org.opencontainers.image.description="DotMac Billing back office: web, worker, beat and migrations"
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
WORKDIR /app
ENV DJANGO_ENV=production \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    CELERY_HEARTBEAT_FILE=/tmp/celery-heartbeat \
    MIGRATION_BACKUP_DIR=/var/lib/billing/migration-backups
RUN install -d -o billing -g billing /var/lib/billing/migration-backups \
    && chmod 0555 /app/deploy/docker/entrypoint.sh
# The code belongs to root and is read-only for the process; it writes only to /tmp
# (and the prometheus directory under it) and to the backup directory.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health/live', timeout=4).status != 200)"]
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
CMD ["web"]
