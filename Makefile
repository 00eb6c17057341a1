# Two commands: `make run` (the whole product) and `make test` (lint, types, migrations, tests).
# Both use DATABASE_URL / REDIS_URL when set, else embedded servers under .local/.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test checks lint typecheck setup bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "python venv failed: on Debian run 'apt-get install python3-venv' and retry"; exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m billing_project.devenv run

test: setup
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
