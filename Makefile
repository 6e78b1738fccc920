# neuralpde: `make quickstart` runs the main job, `make test` runs the tests.
# Each target sets up .venv/ first (Python 3.11, versions pinned in constraints.txt).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: quickstart test test-slow test-all lint bench notebooks clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -e '.[test,interop]'
	touch $@

quickstart: $(VENV)/.installed
	$(BIN)/neuralpde quickstart --out runs/quickstart

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(PYTEST_WORKERS) --durations=15

test-slow: $(VENV)/.installed
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m slow --durations=15

test-all: $(VENV)/.installed
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "slow or not slow"

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/ns2d_solver.py
	$(BIN)/python benchmarks/gpme_solver.py
	$(BIN)/python benchmarks/local_constraints.py --quick
	$(BIN)/python benchmarks/online_training.py

notebooks: $(VENV)/.installed
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.py
	$(BIN)/jupytext --to ipynb --update-metadata '{}' notebooks/[0-9][0-9]_*.py

clean:
	rm -rf $(VENV) runs .pytest_cache
