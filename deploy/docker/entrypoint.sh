#!/bin/sh
# The image's entry point: the first argument names the process.
#   web      gunicorn on $PORT with $WEB_CONCURRENCY workers
#   worker   Celery worker for $CELERY_QUEUES (default: every queue, highest priority first)
#            with $CELERY_CONCURRENCY processes
#   beat     Celery beat (run exactly one)
#   migrate  safe_migrate --wait --parallel $MIGRATE_PARALLEL (the release step / Job)
#   anything else runs as given, e.g. `python manage.py provision_tenant acme ...`
# The commands mirror the Procfile's lines.
set -eu

# prometheus-client's multiprocess mode reads PROMETHEUS_MULTIPROC_DIR at import time; a
# process starting must not inherit files of a previous container's PIDs (OPS-NOTES A.1).
prepare_metrics_dir() {
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
        # Empty it rather than remove it: on Kubernetes it is its own emptyDir mount.
        mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
        find "${PROMETHEUS_MULTIPROC_DIR:?}" -mindepth 1 -delete
    fi
}

role="${1:-web}"
case "$role" in
    web)
        shift
        prepare_metrics_dir
        exec gunicorn billing_project.wsgi \
            --bind "0.0.0.0:${PORT:-8000}" \
            --workers "${WEB_CONCURRENCY:-2}" \
            --access-logfile - \
            --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
            "$@"
        ;;
    worker)
        shift
        prepare_metrics_dir
        exec celery -A billing_project worker \
            -Q "${CELERY_QUEUES:-notifications-high,webhooks,dunning,notifications,default}" \
            --concurrency "${CELERY_CONCURRENCY:-2}" \
            --loglevel "${LOG_LEVEL:-INFO}" \
            "$@"
        ;;
    beat)
        shift
        exec celery -A billing_project beat --loglevel "${LOG_LEVEL:-INFO}" "$@"
        ;;
    migrate)
        shift
        exec python manage.py safe_migrate --wait --parallel "${MIGRATE_PARALLEL:-4}" "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
