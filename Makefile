# Two commands: `make run` (the whole product) and `make test` (lint, types, migrations, tests).
# Both use DATABASE_URL / REDIS_URL when set, else embedded servers under .local/.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test checks lint typecheck setup system-deps bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "python venv failed: on Debian run 'apt-get install python3-venv' and retry"; exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

setup: $(STAMP)

# WeasyPrint (invoice PDFs) needs pango, harfbuzz-subset and a font from Debian. No-op when present;
# installs them when run as root (CI, fresh machines), otherwise says what to install.
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
system-deps: setup
	@if $(PY) -c "import ctypes.util, sys, weasyprint; sys.exit(ctypes.util.find_library('harfbuzz-subset') is None)" \
	    >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing WeasyPrint's system packages: $(SYSTEM_PACKAGES)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; }; \
	elif $(PY) -c "import weasyprint" >/dev/null 2>&1; then \
	  echo "note: for smaller PDFs install libharfbuzz-subset0 (apt-get install libharfbuzz-subset0)"; \
	else \
	  echo "WeasyPrint cannot load its libraries: run 'sudo apt-get install $(SYSTEM_PACKAGES)'"; exit 1; \
	fi
	@# The reference API gateway's test (tests/platform/test_gateway.py) runs Debian's nginx. No-op when present.
	@if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing nginx-light (the reference gateway's test runs it)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; }; \
	else \
	  echo "the gateway test needs nginx: run 'sudo apt-get install nginx-light'"; \
	fi
	@# The browser smoke test (tests/browser) drives Debian's chromium. No-op when present.
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium (the admin's browser smoke test drives it)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq chromium >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }; \
	else \
	  echo "the browser smoke test needs chromium: run 'sudo apt-get install chromium'"; \
	fi
	@# promtool (alert rule checks and tests) and prometheus (the real-scrape test): Debian's prometheus.
	@if [ -x /usr/bin/promtool ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing prometheus (promtool checks the alert rules)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; \
	else \
	  echo "the alert rule tests need promtool: run 'sudo apt-get install prometheus'"; \
	fi

run: setup system-deps
	$(PY) -m billing_project.devenv run

test: setup system-deps
	$(PY) -m billing_project.devenv exec -- $(MAKE) --no-print-directory checks

# Runs inside `make test`, with the services up.
checks: lint typecheck
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py compile_translations
	$(VENV)/bin/pytest

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck:
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m billing_project.devenv exec -- $(PY) -m bench

clean:
	rm -rf $(VENV) .local .mypy_cache .ruff_cache .pytest_cache
