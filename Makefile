# dancu — the two commands: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := src/dancu/static/vendor/.installed
export DANCU_DATA_DIR ?= $(CURDIR)/var
PYTEST_WORKERS ?= 2
DEMO_PEOPLE ?= 20000

.PHONY: demo test install assets system-test-deps lint test-sqlite test-postgres bench serve db i18n clean

## make demo: install, create the database and keys, seed, serve on http://127.0.0.1:8000
demo: install assets
	DANCU_ENV=demo $(BIN)/dancu db upgrade
	DANCU_ENV=demo $(BIN)/dancu keys init
	DANCU_ENV=demo $(BIN)/dancu demo seed --people $(DEMO_PEOPLE)
	@echo "Serving http://127.0.0.1:8000 (Ctrl+C to stop)"
	DANCU_ENV=demo DANCU_COOKIE_SECURE=false $(BIN)/dancu serve --host 127.0.0.1 --port 8000

## make test: install what the tests need, lint, and run the whole suite on SQLite and PostgreSQL
test: install assets system-test-deps lint test-sqlite test-postgres

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

$(VENDOR): package.json package-lock.json scripts/vendor-assets.mjs
	command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	npm ci --no-audit --no-fund --silent
	node scripts/vendor-assets.mjs
	touch $(VENDOR)

assets: $(VENDOR)

system-test-deps:
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-postgres.sh

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test-sqlite: install assets
	DANCU_TEST_DB=sqlite $(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider

test-postgres: install assets
	DANCU_TEST_DB=postgresql $(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider

i18n: install
	bash scripts/i18n.sh

bench: install
	bash scripts/ensure-postgres.sh
	$(BIN)/python bench/bench_credentials.py
	$(BIN)/python bench/bench_import.py
	$(BIN)/python bench/bench_seed.py
	$(BIN)/python bench/bench_lookup.py
	$(BIN)/python bench/bench_declarations.py
	$(BIN)/python bench/bench_scan.py

serve: install assets
	$(BIN)/dancu serve

db: install
	$(BIN)/dancu db upgrade

clean:
	rm -rf $(VENV) node_modules src/dancu/static/vendor var
