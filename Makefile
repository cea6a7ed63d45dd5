# The whole set-up is in here: `make plan` and `make test` create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: plan plans test lint config-reference clean

$(BIN)/.installed: requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## Offline plan of one stack (STACK=dev by default): prints the tree, writes build/plan/$(STACK).json.
plan: $(BIN)/.installed
	$(BIN)/python -m offline.plan --stack $(STACK)

## Offline plans of every stack.
plans: $(BIN)/.installed
	$(BIN)/python -m offline.plan --stack dev
	$(BIN)/python -m offline.plan --stack prod

## All tests: lint, then unit tests under mocks, both stacks planned, config and docs checks.
test: lint
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .

## Rewrite the configuration reference in README.md from settings.py.
config-reference: $(BIN)/.installed
	$(BIN)/python -m offline.config_reference --write

clean:
	rm -rf build .pytest_cache
