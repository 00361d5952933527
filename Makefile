# make run   - install, migrate the SQLite database, seed the demo queue, start web + worker
# make test  - install dev tools and Prism (npm), start a throwaway PostgreSQL, run lint + the suite on
#              SQLite and PostgreSQL, and the provider contract tests (tests/contract) against Prism
# make bench - the benchmarks in bench/ (SQLite and PostgreSQL), figures printed: bench-booking
#              (availability, booking, storm), bench-dialer (dialer and webhooks), then
#              bench-events (CRM event deliveries per second to a fast receiver)
# make messages - after changing an IVR prompt: extract the English msgids and merge them into
#              the ru/fr catalogs (docs/languages.md); nothing to compile, .po files are read at run time

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
WEB_WORKERS ?= 2
PG_URL = $(shell scripts/pg-test-server.sh url)
# Web processes and the worker share their Prometheus samples here (docs/operations.md);
# emptied at each start, as prometheus_client's multiprocess mode requires.
METRICS_DIR := $(CURDIR)/instance/prometheus

.PHONY: run test lint unit bench bench-booking bench-dialer bench-events clean prism messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/flask --app wsgi callbacks init-db
	$(BIN)/flask --app wsgi callbacks seed-demo
	$(BIN)/flask --app wsgi callbacks seed-demo-activity
	$(BIN)/flask --app wsgi callbacks seed-demo-crm
	@echo ""
	@$(BIN)/flask --app wsgi callbacks demo-admin
	@echo "  API:        http://$(HOST):$(PORT)/api/v1/queues/support"
	@echo "  Slots:      http://$(HOST):$(PORT)/api/v1/queues/support/slots"
	@echo "  OpenAPI:    http://$(HOST):$(PORT)/api/v1/openapi.json"
	@echo "  Widget:     http://$(HOST):$(PORT)/widget-demo"
	@echo "  Book:       http://$(HOST):$(PORT)/book/support"
	@echo "  Simulator:  http://$(HOST):$(PORT)/simulator"
	@echo "  CRM events: http://$(HOST):$(PORT)/simulator/crm (a stand-in CRM subscribed to the demo queue)"
	@echo "  Ready:      http://$(HOST):$(PORT)/readyz"
	@echo "  Metrics:    http://$(HOST):$(PORT)/metrics"
	@echo "  Ctrl-C stops the web server and the worker."
	@echo ""
	@rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	@trap 'kill 0' INT TERM EXIT; \
	export PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR); \
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WEB_WORKERS) wsgi:app & \
	$(BIN)/flask --app wsgi callbacks worker & \
	wait

# Prism (@stoplight/prism-cli, pinned in package-lock.json) serves the providers' OpenAPI
# specs to tests/contract. Reinstalled when package.json or the lock is newer than it.
PRISM := node_modules/.bin/prism

$(PRISM): package.json $(wildcard package-lock.json)
	@if [ -f package-lock.json ]; then \
		SCARF_ANALYTICS=false npm ci --no-audit --no-fund; \
	else \
		SCARF_ANALYTICS=false npm install --no-audit --no-fund; \
	fi
	@test -x $@ || { echo "npm did not install $@" >&2; exit 1; }
	@touch $@

prism: $(PRISM)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/pytest tests/unit -q

test: $(VENV)/.installed-dev $(PRISM) lint
	@scripts/ensure-chromium.sh
	@url=$$(scripts/pg-test-server.sh start) || exit 1; \
	TEST_DATABASE_URL=$$url REQUIRE_POSTGRES=1 $(BIN)/pytest -q -p no:cacheprovider; rc=$$?; \
	scripts/pg-test-server.sh stop; exit $$rc

bench: bench-booking bench-dialer bench-events

# Availability, booking under contention and the storm (SQLite and a durable PostgreSQL).
bench-booking: $(VENV)/.installed-dev
	@url=$$(PGTEST_DURABLE=1 scripts/pg-test-server.sh start) || exit 1; \
	BENCH_POSTGRES_URL=$$url $(BIN)/python -m bench.run_all; rc=$$?; \
	scripts/pg-test-server.sh stop; exit $$rc

# The dialer (lag, claim capacity, SIGKILLed workers) and the status webhooks; it starts
# its own durable PostgreSQL on port 54360.
bench-dialer: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run_dialer

# CRM event deliveries per second to a fast receiver in its own process (an EventSender
# ticked in a loop, then a real worker), SQLite and its own durable PostgreSQL on port 54395.
# Fewer events for a quick run: EVENTS_BENCH_EVENTS=1000 make bench-events.
bench-events: $(VENV)/.installed-dev
	$(BIN)/python -m bench.events_bench

# After changing a prompt: re-extract the English msgids and merge them into every
# catalog, then translate what is new or fuzzy (docs/languages.md). The .po files are read
# at run time (ivr_flows/i18n.py): there is nothing to compile.
LOCALES := ivr_flows/locales

messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -c TRANSLATORS: --strip-comment-tags --sort-by-file --add-location=file --no-wrap \
		--project callback-scheduler --copyright-holder "callback-scheduler contributors" \
		-o $(LOCALES)/messages.pot ivr_flows
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-wrap --previous --ignore-obsolete

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache node_modules
