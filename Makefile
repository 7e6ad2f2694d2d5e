# The two commands of the README, and what they need. Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,demo]'
	touch $(STAMP)

install: $(STAMP)

## Set everything up and run the newcomer's demo against a throwaway local Synapse.
demo: $(STAMP)
	$(BIN)/twimbot demo

## Lint, type-check and run the whole test suite (starts its own Synapse).
test: $(STAMP)
	$(BIN)/ruff check twimbot tests bench
	$(BIN)/ruff format --check twimbot tests bench
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check twimbot tests bench
	$(BIN)/ruff format --check twimbot tests bench
	$(BIN)/mypy

## Benchmarks (SPEC §10); writes bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
