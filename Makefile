# candlecast — see README.md. `make up` starts everything, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	  $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
STAMP := $(VENV)/.installed
# DATA=universe: the 50-pair development universe (tests/data/universe, 1h/4h/1d, 2021-01-01 to
# 2021-06-20: a real cross-section) in a home of its own, instead of the bundled five pairs.
ifeq ($(DATA),universe)
export CANDLECAST_HOME ?= $(CURDIR)/.candlecast-universe
export CANDLECAST_PROVIDER = sample
export CANDLECAST_SAMPLE_DIR = $(CURDIR)/tests/data/universe
else ifneq ($(DATA),)
$(error DATA=$(DATA): use DATA=universe, or leave DATA unset for the bundled sample)
endif
export CANDLECAST_HOME ?= $(CURDIR)/.candlecast

.PHONY: install system-deps up down test lint format serve bento clean universe

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements.lock.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12 not found: run 'pyenv install 3.12' or install your distribution's python3.12 package (apt-get install python3.12), or pass PYTHON=/path/to/python3.12"; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check \
	  -r requirements.txt -r requirements-dev.txt -c requirements.lock.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# What the tests need outside Python (Debian/Ubuntu, as root or with sudo): Debian's
# docker-compose, which tests/unit/test_compose.py runs (`docker-compose config`). .ci/run runs it.
system-deps:
	@command -v docker-compose >/dev/null || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq docker-compose; }
	@docker-compose version --short >/dev/null

# `make up EXECUTOR=celery WORKERS=2`: Airflow on the CeleryExecutor with two local workers.
up: install
	$(VENV)/bin/candlecast up --project-dir $(CURDIR) \
	  $(if $(EXECUTOR),--executor $(EXECUTOR)) $(if $(WORKERS),--workers $(WORKERS))

down:
	@test -x $(VENV)/bin/candlecast && $(VENV)/bin/candlecast down || echo "nothing to stop"

# --durations: the 25 slowest setups, calls and teardowns, printed at the end of every run.
# TEST_WORKERS pytest-xdist processes (2, the default; 0: one process); a test module is one unit
# of work and the modules sharing the session's Airflow stack are one (tests/conftest.py), in the
# order conftest gives: longest first. On 2 cores: 21.9 min of pytest against 31.7 serial (README).
TEST_WORKERS ?= 2
test: lint
	$(VENV)/bin/pytest -ra --durations=25 -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

# ruff; the layer contracts (import-linter, pyproject.toml); requirements.txt = what is imported.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/deptry .

format: install
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

# `make serve` serves the source on the running stack (following the champions);
# `make serve BENTO=candlecast:<version>` a Bento `make bento` built, importing its own copy of
# the package and serving the versions it pins. `make bento` builds without network, pinning
# each timeframe's champion of the moment (see README, Releases).
BENTO ?= bento.service:Candlecast
PORT ?= 3000

serve: install
	@test -f $(CANDLECAST_HOME)/run/stack.env || { echo "no stack: run make up first"; exit 1; }
	source $(CANDLECAST_HOME)/run/stack.env && \
	if [ "$(BENTO)" != bento.service:Candlecast ]; then \
	  export PYTHONPATH="$$($(VENV)/bin/bentoml get $(BENTO) -o path)/src/include"; fi && \
	$(VENV)/bin/bentoml serve $(BENTO) --host 127.0.0.1 --port $(PORT)

bento: install
	@test -f $(CANDLECAST_HOME)/run/stack.env || { echo "no stack: run make up first"; exit 1; }
	source $(CANDLECAST_HOME)/run/stack.env && $(VENV)/bin/candlecast bento build --project-dir $(CURDIR)

# The real 50-pair development universe (or UNIVERSE=<folder of <timeframe>/<PAIR>.parquet>)
# through the real path into its own home: sync, store, validate, train 1h/4h/1d, one report each.
UNIVERSE ?= tests/data/universe
universe: install
	export CANDLECAST_HOME=$(CURDIR)/.candlecast-universe CANDLECAST_PROVIDER=sample \
	  CANDLECAST_SAMPLE_DIR=$(abspath $(UNIVERSE)) && \
	$(VENV)/bin/candlecast sync-symbols && \
	$(VENV)/bin/candlecast update --timeframe 1h --timeframe 4h --timeframe 1d && \
	$(VENV)/bin/candlecast train --timeframe 1h --timeframe 4h --timeframe 1d

clean: down
	rm -rf $(CANDLECAST_HOME)
