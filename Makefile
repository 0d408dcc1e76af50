# Set-up is idempotent: every target below installs what is missing and nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
TICK_INTERVAL ?= 30
export FLASK_APP := webapp:create_app

.PHONY: run test setup deps translations lint serve clean

## run: set everything up (venv, npm packages, SQLite database, workflows, demo users) and serve
run: setup
	@echo "Serving on http://$(HOST):$(PORT)/  (demo logins above; password demo1234)"
	@# Links in mails and certificates, and the one host answered besides localhost: this
	@# address unless PUBLIC_BASE_URL says otherwise (HOST=0.0.0.0 needs it: the LAN address).
	@export PUBLIC_BASE_URL="$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)}"; \
	  $(BIN)/flask tick --interval $(TICK_INTERVAL) & ticker=$$!; \
	  trap 'kill $$ticker 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/flask run --host $(HOST) --port $(PORT)

## test: the same set-up, then the whole suite on SQLite, and again on PostgreSQL if one answers
## at TEST_PG_URL (browser tests need /usr/bin/chromium)
TEST_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
## With REQUIRE_ALL=1 (as in CI) nothing is skipped for want of a dependency: a missing browser,
## poppler, BPMN corpus or PostgreSQL fails the run (tests/needs.py).
test: deps
	@command -v chromium >/dev/null 2>&1 || echo "NOTE: chromium not found: the browser tests will be SKIPPED (sudo apt-get install chromium)"
	@if [ "$$REQUIRE_ALL" = 1 ] && ! $(BIN)/python -m tests.pg_available "$(TEST_PG_URL)"; then \
	  echo "REQUIRE_ALL=1 but no PostgreSQL answers at $(TEST_PG_URL)"; exit 1; \
	fi
	@echo "== test suite on SQLite =="
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@if $(BIN)/python -m tests.pg_available "$(TEST_PG_URL)"; then \
	  echo "== test suite on PostgreSQL ($(TEST_PG_URL)) =="; \
	  TEST_DATABASE_URL="$(TEST_PG_URL)" $(BIN)/python -m pytest $(PYTEST_ARGS); \
	else \
	  echo "NOTE: no PostgreSQL answers at $(TEST_PG_URL): the PostgreSQL run was SKIPPED"; \
	fi

setup: deps
	$(BIN)/flask setup

deps: $(VENV)/.installed node_modules/.installed translations

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d webapp/translations

lint: deps
	$(BIN)/ruff check webapp tests bench

clean:
	rm -rf $(VENV) node_modules instance test-artifacts
