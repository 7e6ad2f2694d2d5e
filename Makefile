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
	@# Two pytest processes at once: the tests that run a homeserver, in order, and the
	@# pure-logic ones beside them (4 min instead of 6 on a slow run of two cores). The pure
	@# run's report follows the homeserver run's; either failing fails the target.
	@$(BIN)/pytest -m "not homeserver" > .pytest-pure.log 2>&1 & pure=$$!; \
	$(BIN)/pytest -m homeserver; served=$$?; \
	wait $$pure; logic=$$?; \
	echo; echo "== pure-logic tests (pytest -m 'not homeserver') =="; cat .pytest-pure.log; \
	rm -f .pytest-pure.log; \
	echo "homeserver tests: exit $$served; pure-logic tests: exit $$logic"; \
	test $$served -eq 0 && test $$logic -eq 0

lint: $(STAMP)
	$(BIN)/ruff check twimbot tests bench
	$(BIN)/ruff format --check twimbot tests bench
	$(BIN)/mypy

## Benchmarks (SPEC §10); writes bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
