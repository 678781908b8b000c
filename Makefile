# Everything sets itself up: `make demo` runs the main job end to end, `make test` runs the checks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint benchmark mutation clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/shellcheck firmware_scripts/*.sh

test: lint
	$(BIN)/python -m pytest

benchmark: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-only

# Mutation testing of the contracts listed under [tool.mutmut] in pyproject.toml (docs/testing.md).
# Slow (tens of minutes on 2 cores), so not part of `make test`; MUTATION_JOBS mutants run at once.
MUTATION_JOBS ?= 1
mutation: $(STAMP)
	rm -rf mutants
	nice -n 15 $(BIN)/mutmut run --max-children $(MUTATION_JOBS)
	$(BIN)/python scripts/mutation_report.py --survivors

clean:
	rm -rf $(VENV) demo mutants .pytest_cache .ruff_cache
