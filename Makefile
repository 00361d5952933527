# make run   - install, migrate the SQLite database, seed the demo queue, start web + worker
# make test  - install dev tools and Prism (npm), start a throwaway PostgreSQL, run lint + the suite on
#              SQLite and PostgreSQL, and the provider contract tests (tests/contract) against Prism
# make bench - the benchmarks in bench/ (SQLite and PostgreSQL), figures printed: bench-booking
#              (availability, booking, storm), bench-dialer (dialer and webhooks),
#              bench-events (CRM event deliveries per second to a fast receiver), then
#              bench-day (a simulated day of calls through the IVR, the dialer and simulated agents)
# make lock  - after changing requirements.in or requirements-dev.in: compile them, with every
#              transitive package and its hashes, into requirements.txt and requirements-dev.txt
# make messages - after changing an IVR prompt: extract the English msgids and merge them into
#              the ru/fr catalogs (docs/languages.md); nothing to compile, .po files are read at run time

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# make run's web server: one gunicorn process with threads, so that the rate limits' counts
# (memory://, in that process) hold for every request. More processes need a shared store:
# RATE_LIMIT_STORAGE_URI=redis://… (docs/deployment.md); gunicorn.conf.py refuses otherwise.
WEB_WORKERS ?= 1
WEB_THREADS ?= 8
# What texts, links, the widget demo and the stand-in CRM point at: the address make run
# binds, unless PUBLIC_BASE_URL is set (0.0.0.0 binds every interface: links use 127.0.0.1).
PUBLIC_HOST = $(if $(filter 0.0.0.0 :: [::],$(HOST)),127.0.0.1,$(HOST))
RUN_BASE_URL := $(or $(PUBLIC_BASE_URL),http://$(PUBLIC_HOST):$(PORT))
# The stand-in CRM make run subscribes is this service, at RUN_BASE_URL's host (loopback by
# default): events may go there, besides what EVENT_TARGETS_ALLOWED already lets through.
comma := ,
RUN_HOST = $(firstword $(subst :, ,$(firstword $(subst /, ,$(patsubst https://%,%,$(patsubst http://%,%,$(RUN_BASE_URL)))))))
PG_URL = $(shell scripts/pg-test-server.sh url)
# Web processes and the worker share their Prometheus samples here (docs/operations.md);
# emptied at each start, as prometheus_client's multiprocess mode requires.
METRICS_DIR := $(CURDIR)/instance/prometheus

.PHONY: run test lint unit bench bench-booking bench-profile bench-idle bench-dialer bench-events bench-day clean prism messages lock

# The lock files (requirements.txt, requirements-dev.txt) hold every package, pip itself
# among them, with its hashes: pip refuses anything else (--require-hashes).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $@

# pip-tools in a venv of its own (pinned): it is not a dependency of the product.
PIP_TOOLS := $(CURDIR)/.venv-lock/bin/pip-compile
$(PIP_TOOLS):
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet pip-tools==7.7.0

COMPILE = $(PIP_TOOLS) --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --no-emit-trusted-host

lock: $(PIP_TOOLS)
	$(COMPILE) --output-file requirements.txt requirements.in
	$(COMPILE) --output-file requirements-dev.txt requirements-dev.in

run: export PUBLIC_BASE_URL := $(RUN_BASE_URL)
run: export DEMO_MODE := true
# The phone simulator's agents: 3, each handling a call for 90 s (the page shows them busy and free).
run: export SIMULATOR_AGENTS := $(or $(SIMULATOR_AGENTS),3)
run: export SIMULATOR_HANDLE_SECONDS := $(or $(SIMULATOR_HANDLE_SECONDS),90)
run: export EVENT_TARGETS_ALLOWED := $(RUN_HOST)$(if $(EVENT_TARGETS_ALLOWED),$(comma)$(EVENT_TARGETS_ALLOWED))
run: $(VENV)/.installed
	$(BIN)/flask --app wsgi callbacks init-db
	$(BIN)/flask --app wsgi callbacks seed-demo
	$(BIN)/flask --app wsgi callbacks seed-demo-activity
	$(BIN)/flask --app wsgi callbacks seed-demo-crm
	@echo ""
	@$(BIN)/flask --app wsgi callbacks demo-admin
	@echo "  API:        $(RUN_BASE_URL)/api/v1/queues/support"
	@echo "  Slots:      $(RUN_BASE_URL)/api/v1/queues/support/slots"
	@echo "  OpenAPI:    $(RUN_BASE_URL)/api/v1/openapi.json"
	@echo "  Widget:     $$($(BIN)/python -c 'import sys; from app.demo_site import demo_page_origin as o; print(o(sys.argv[1]))' $(RUN_BASE_URL))/widget-demo (a customer site on another origin)"
	@echo "  Book:       $(RUN_BASE_URL)/book/support"
	@echo "  Simulator:  $(RUN_BASE_URL)/simulator"
	@echo "  CRM events: $(RUN_BASE_URL)/simulator/crm (a stand-in CRM subscribed to the demo queue)"
	@echo "  Ready:      $(RUN_BASE_URL)/readyz"
	@echo "  Metrics:    $(RUN_BASE_URL)/metrics"
	@echo "  Ctrl-C stops the web server and the worker."
	@echo ""
	@rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	@trap 'kill 0' INT TERM EXIT; \
	export PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR); \
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WEB_WORKERS) --threads $(WEB_THREADS) wsgi:app & \
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
	@scripts/ensure-nginx.sh
	@url=$$(scripts/pg-test-server.sh start) || exit 1; \
	redis=$$(scripts/redis-test-server.sh start) || { scripts/pg-test-server.sh stop; exit 1; }; \
	TEST_DATABASE_URL=$$url TEST_REDIS_URL=$$redis REQUIRE_POSTGRES=1 REQUIRE_NGINX=1 $(BIN)/pytest -q -p no:cacheprovider; rc=$$?; \
	scripts/pg-test-server.sh stop; scripts/redis-test-server.sh stop; exit $$rc

bench: bench-booking bench-dialer bench-events bench-day bench-idle

# Availability, booking under contention and the storm (SQLite and a durable PostgreSQL).
bench-booking: $(VENV)/.installed-dev
	@url=$$(PGTEST_DURABLE=1 scripts/pg-test-server.sh start) || exit 1; \
	BENCH_POSTGRES_URL=$$url $(BIN)/python -m bench.run_all; rc=$$?; \
	scripts/pg-test-server.sh stop; exit $$rc

# The dialer (lag, claim capacity, SIGKILLed workers) and the status webhooks; it starts
# its own durable PostgreSQL on port 54360.
# cProfile of one slot list request, in-process (docs/performance.md quotes it).
bench-profile: $(VENV)/.installed-dev
	$(BIN)/python -m bench.profile_slots
	PROFILE_FRESH=1 $(BIN)/python -m bench.profile_slots

# A worker with nothing due: its CPU over 60 s, then how fast it dials a booking due now.
bench-idle: $(VENV)/.installed-dev
	@url=$$(scripts/pg-test-server.sh start | tail -1) || exit 1; \
	BENCH_POSTGRES_URL=$$url $(BIN)/python -m bench.idle_worker; rc=$$?; \
	scripts/pg-test-server.sh stop; exit $$rc

bench-dialer: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run_dialer

# CRM event deliveries per second to a fast receiver in its own process (an EventSender
# ticked in a loop, then a real worker), SQLite and its own durable PostgreSQL on port 54395.
# Fewer events for a quick run: EVENTS_BENCH_EVENTS=1000 make bench-events.
bench-events: $(VENV)/.installed-dev
	$(BIN)/python -m bench.events_bench

# A simulated day: 20 simulated agents (AHT 6 min), ~2,000 inbound calls with a morning peak
# through the IVR, the dialer and the simulator's agents, in process on SQLite with a moved
# clock; prints the offer and take shares, the ECBT error, idle share, abandoned callbacks
# and the on-time rate (bench/README.md). A quicker, smaller day: SIMDAY_CALLS=200 make bench-day.
bench-day: $(VENV)/.installed-dev
	$(BIN)/python -m bench.simulated_day

# After changing a prompt or a console page: re-extract the English msgids and merge them into every
# catalog, then translate what is new or fuzzy (docs/languages.md). The .po files are read
# at run time (infra/i18n.py): there is nothing to compile.
LOCALES := ivr_flows/locales

messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -c TRANSLATORS: --strip-comment-tags --sort-by-file --add-location=file --no-wrap \
		--project callback-scheduler --copyright-holder "callback-scheduler contributors" \
		-o $(LOCALES)/messages.pot ivr_flows
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-wrap --previous --ignore-obsolete
	$(BIN)/pybabel extract -F babel-console.cfg -c TRANSLATORS: --strip-comment-tags --sort-by-file --add-location=file --no-wrap \
		--project callback-scheduler --copyright-holder "callback-scheduler contributors" \
		-o console/locales/console.pot .
	$(BIN)/pybabel update -D console -i console/locales/console.pot -d console/locales --no-wrap --previous --ignore-obsolete

clean:
	rm -rf $(VENV) .venv-lock instance .pytest_cache .mypy_cache .ruff_cache node_modules
