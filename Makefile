# Centro: `make run` starts everything, `make test` checks everything (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
UV := .tools/bin/uv
PY := .venv/bin/python
# uv must use the interpreter we found, never download one.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
# Python keeps its bytecode (and pytest its rewritten test modules) in __pycache__, even where
# the environment says not to: otherwise every test worker, and every process a test starts,
# compiles the project and its dependencies again (about 20 s of CPU each).
export PYTHONDONTWRITEBYTECODE :=

.PHONY: help install chromium run test lint format bench services-start services-stop services-status clean

help:
	@echo "make run      install, migrate, seed the demo tenant, start web + worker + beat"
	@echo "make test     ruff (format check + lint), import-linter and the whole pytest suite"
	@echo "make format   apply ruff formatting and safe fixes"
	@echo "make bench    run the benchmarks in bench/"
	@echo "make services-start|services-stop|services-status   the embedded PostgreSQL and Redis"

$(UV):
	@python=$$(bin/find-python) && "$$python" -m venv .tools && .tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	@$(UV) sync --locked --quiet --python "$$(bin/find-python)"
	@touch $@

install: .venv/.synced

run: install
	@$(PY) -m omnichannel.supervisor

# Tests run in parallel, one worker per core plus one (at most 5), whole files per worker:
# each worker has its own test database, Redis database and media directory (tests/plugin.py).
# The extra worker fills the time the others spend waiting on what their tests start (browsers,
# servers, `make run`, Celery workers). `make test PYTEST_WORKERS=` runs them in one process.
# --no-loadscope-reorder: xdist would otherwise hand out the files with the most tests first,
# so a browser file could start Playwright's event loop in a worker before that worker's
# asyncio tests (tests/plugin.py orders the files: slow first, browser last).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 4 ? n + 1 : 5 )))
PYTEST_WORKERS ?= -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Every test runs once. The tests marked `clock` run in the second pytest with the wall clock
# CLOCK_SHIFT hours away from the real one (ticking on, in every Python process they start), so
# the suite reads two times of day in every run and a test that passes only at some hours fails
# whenever the run is at one of the others; `make test CLOCK_SHIFT=0` runs them at the real hour.
# The `slow` ones (real processes killed and restarted, the embedded PostgreSQL's own clock
# beside them) pin what they depend on (quiet hours off) and run unshifted in the first.
# The first makes fresh test databases and keeps them; the second reuses them (building one
# runs every migration: 15-30 s per worker) and skips collecting the API document's tests (a
# schemathesis build of every operation in each worker, and none of them reads the clock).
CLOCK_SHIFT ?= 12
test: install chromium
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .
	.venv/bin/lint-imports
	$(PY) -m pytest $(PYTEST_WORKERS) -m "not clock or slow" --create-db --reuse-db
	$(PY) -m pytest $(PYTEST_WORKERS) -m "clock and not slow" --clock-shift $(CLOCK_SHIFT) --reuse-db --ignore=tests/test_api_schema.py -p no:cacheprovider

# Browser tests drive Debian's chromium (Playwright cannot download its own browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; \
	  else \
	    echo "Browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; \
	  fi; }

lint: install
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .
	.venv/bin/lint-imports

format: install
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench: install
	@echo "== bench/request_overhead.py"; $(PY) bench/request_overhead.py
	@echo "== bench/webhook_ingest.py (against the server of \`BENCH_ENDPOINTS=true make run\`)"
	@$(PY) bench/webhook_ingest.py
	@echo "== bench/realtime.py (50 agent sockets on the same server: webhook commit -> frame)"
	@$(PY) bench/realtime.py
	@echo "== bench/footprint.py (memory of that \`make run\`, idle, under webhooks, 10-minute leak check)"
	@$(PY) bench/footprint.py
	@echo "== bench/inbox_list.py (seeds 100k conversations / 1M messages, and 1M contacts)"; $(PY) bench/inbox_list.py
	@echo "== bench/contacts_import.py (100k rows against a plain COPY)"; $(PY) bench/contacts_import.py
	@echo "== bench/campaign_throughput.py (100k-recipient campaign via the fake Twilio, vs one Celery task each)"
	@$(PY) bench/campaign_throughput.py

services-start: install
	@$(PY) -m omnichannel.embedded start

services-stop: install
	@$(PY) -m omnichannel.embedded stop

services-status: install
	@$(PY) -m omnichannel.embedded status

clean:
	rm -rf .venv .tools .pytest_cache .ruff_cache
