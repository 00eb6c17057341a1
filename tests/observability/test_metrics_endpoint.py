"""/metrics: the token, the format, any Host, and route-template labels."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest
from django.test import Client
from prometheus_client import CONTENT_TYPE_LATEST

from tests.api.conftest import bearer, token
from tests.observability.scrape import parse, series, value

POD_IP_HOST = "10.42.0.17:8000"


@pytest.fixture
def public_client() -> Client:
    return Client(HTTP_HOST="localhost")


def test_metrics_refuse_a_missing_or_wrong_token_with_a_problem(db: None, settings, public_client: Client) -> None:
    settings.METRICS_TOKEN = "scrape-secret-1"
    for authorization in ("", "Bearer wrong", "Basic scrape-secret-1"):
        response = public_client.get("/metrics", HTTP_AUTHORIZATION=authorization)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["type"] == "urn:dotmac:billing:problem:metrics-unauthorized"


def test_metrics_answer_with_the_token_in_the_prometheus_format(db: None, settings, public_client: Client) -> None:
    settings.METRICS_TOKEN = "scrape-secret-1"
    response = public_client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-1")
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    samples = parse(response.content.decode())
    # The scrape-time collectors are there: DB gauges, queues, migration runs.
    names = {name for name, _labels in samples}
    assert {"billing_metrics_refreshed_timestamp_seconds", "billing_celery_queue_length"} <= names
    assert {labels["queue"] for labels in series(samples, "billing_celery_queue_length")} == {
        "notifications-high",
        "webhooks",
        "dunning",
        "notifications",
        "default",
    }


def test_metrics_are_open_without_a_token_configured_and_answer_on_the_pod_ip(db: None, settings) -> None:
    settings.METRICS_TOKEN = ""
    # Prometheus on Kubernetes scrapes the pod IP: no ALLOWED_HOSTS entry, no tenant.
    response = Client(HTTP_HOST=POD_IP_HOST).get("/metrics")
    assert response.status_code == 200
    assert b"billing_http_requests_total" in response.content


def test_requests_are_counted_by_route_template_never_by_raw_path(db: None, settings, public_client: Client) -> None:
    settings.METRICS_TOKEN = ""
    labels = {"route": "/api/v1/invoices/{id}/", "method": "GET", "status": "4xx", "api_version": "v1"}
    before = value(parse(public_client.get("/metrics").content.decode()), "billing_http_requests_total", **labels)
    credential = bearer(token())
    for _ in range(3):
        response = public_client.get(f"/api/v1/invoices/{uuid.uuid4()}/", **credential)
        assert response.status_code == 404
    samples = parse(public_client.get("/metrics").content.decode())
    assert value(samples, "billing_http_requests_total", **labels) == before + 3
    routes = {labels["route"] for labels in series(samples, "billing_http_requests_total")}
    assert not any(len(part) == 36 for route in routes for part in route.split("/")), routes


def test_unmatched_paths_share_one_label(db: None, settings, public_client: Client) -> None:
    settings.METRICS_TOKEN = ""
    public_client.get("/no-such-page-" + uuid.uuid4().hex)
    routes = {
        labels["route"]
        for labels in series(parse(public_client.get("/metrics").content.decode()), "billing_http_requests_total")
    }
    assert "<unmatched>" in routes
    assert not any(route.startswith("/no-such-page-") for route in routes)


def test_a_scrape_passes_promtool_check_metrics(db: None, settings, public_client: Client) -> None:
    settings.METRICS_TOKEN = ""
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make system-deps` installs Debian's prometheus package"
    public_client.get(f"/api/v1/invoices/{uuid.uuid4()}/", **bearer(token()))
    scrape = public_client.get("/metrics").content
    result = subprocess.run([promtool, "check", "metrics"], input=scrape, capture_output=True, check=False)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
