# Developer entry points. Every target installs what it needs first, so a fresh
# machine with only python3 and make can run `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint chat studio clean

setup: $(STAMP)

# Re-install only when the dependency list changes; a stamp keeps `setup` idempotent.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Without API_KEY the service refuses to start; for a local run it then makes a
# one-off key (DEV_MODE) and prints it.
run: setup
	@if [ -z "$$API_KEY" ]; then export DEV_MODE=true; fi; exec $(BIN)/salesbot serve

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

chat: setup
	$(BIN)/salesbot chat

studio: setup
	LANGGRAPH_CLI_NO_ANALYTICS=1 $(BIN)/langgraph dev --no-browser

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
