"""The alert rules load, and each alert has a firing and a non-firing unit test (promtool)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool missing: `make system-deps` installs Debian's prometheus package"
    return subprocess.run([binary, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, check=False)


def test_the_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", "tests.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case_and_a_runbook() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    tests = yaml.safe_load((PROMETHEUS_DIR / "tests.yml").read_text())["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert firing == alerts
    assert quiet == alerts
    operations = (PROMETHEUS_DIR.parents[1] / "docs" / "operations.md").read_text()
    for alert in alerts:
        assert f"#### {alert}" in operations, f"no runbook paragraph for {alert}"


def test_the_scrape_config_passes_promtool_check(tmp_path: Path) -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    token_file = tmp_path / "token"
    token_file.write_text("secret")
    config["scrape_configs"][0]["authorization"]["credentials_file"] = str(token_file)
    config["rule_files"] = [str(PROMETHEUS_DIR / "rules.yml")]
    checked = tmp_path / "prometheus.yml"
    checked.write_text(yaml.safe_dump(config))
    result = promtool("check", "config", str(checked))
    assert result.returncode == 0, result.stdout + result.stderr
