# The two commands of the README are `make run` and `make test`; the rest serve them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The test services of scripts/services.sh; an environment that sets its own wins.
TEST_ENV := \
	DATABASE_URL=$${DATABASE_URL:-postgres://midaz:midaz@127.0.0.1:5432/midaz} \
	DATABASE_REPLICA_URL=$${DATABASE_REPLICA_URL:-postgres://midaz:midaz@127.0.0.1:5433/midaz} \
	VALKEY_URL=$${VALKEY_URL:-redis://127.0.0.1:6379/0} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-amqp://guest:guest@127.0.0.1:5672//} \
	SECRET_KEY=$${SECRET_KEY:-test-only-secret-key}

.DEFAULT_GOAL := help
.PHONY: help venv services run test lint format ci

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "python3 is required"; exit 1; }
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
		echo "installing python3-venv"; \
		if [ "$$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv; fi; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP) ## Create the virtualenv from the pinned requirements

services: ## Start PostgreSQL (+ streaming replica), Redis and RabbitMQ if they are down
	scripts/services.sh up

run: venv ## Migrate and serve the ledger on :3002 (embedded PostgreSQL unless DATABASE_URL is set)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver 0.0.0.0:$${SERVER_PORT:-3002}

test: venv services ## Run the whole test suite against the real services
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

lint: venv services ## ruff, formatting, mypy and the migrations check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(TEST_ENV) $(BIN)/mypy .
	$(TEST_ENV) $(BIN)/python manage.py makemigrations --check --dry-run

format: venv ## Format the code and apply safe lint fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ci: lint test ## What .ci/run runs
