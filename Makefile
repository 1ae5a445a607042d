# Two commands do all set-up on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint services bench chaos clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/callback demo

services:
	bash scripts/ensure-services.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: $(STAMP) services lint
	$(BIN)/python -m pytest -n 2  # two processes, one per core: each has its own PostgreSQL database and Redis numbers

# The full chaos run (tests/chaos): a week of five halls on real processes while faults strike; prints the table of
# faults, times to settle and invariants. `make test` runs the short version.
chaos: $(STAMP) services
	CHAOS_FULL=1 $(BIN)/python -m pytest tests/chaos -m chaos -s -p no:randomly

bench: $(STAMP)
	bash scripts/ensure-services.sh
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) instance .pytest_cache
