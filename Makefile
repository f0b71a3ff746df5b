# vmtui developer tasks.  Every target that runs code first runs scripts/setup.sh,
# which is idempotent and takes well under a second when nothing is missing.

VENV   := .venv
PYTHON := $(VENV)/bin/python
ARGS   ?=
PYTEST_ARGS ?=

.PHONY: setup run test lint bench screenshots

setup:
	bash scripts/setup.sh

run: setup
	$(VENV)/bin/vmtui $(ARGS)

# pytest exit codes (1 failures, 2 interrupted, 5 no tests collected, ...) all
# make this recipe, and therefore `make test`, fail.
test: setup
	$(PYTHON) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check vmtui tests benchmarks scripts
	$(VENV)/bin/mypy

bench: setup
	$(PYTHON) -m benchmarks.run
	$(PYTHON) -m benchmarks.console

screenshots: setup
	$(PYTHON) scripts/screenshots.py
