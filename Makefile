# One entry point for people and CI. Every target installs what it needs into .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test bench bench-quick lint format install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The demo admin gets the documented demo password unless MUTU_ADMIN_PASSWORD is set.
run: install
	MUTU_ADMIN_PASSWORD=$${MUTU_ADMIN_PASSWORD:-mutu-demo} $(BIN)/mutu db upgrade
	@if ls bpmn/*.bpmn >/dev/null 2>&1; then $(BIN)/mutu deploy bpmn/; else echo "bpmn/ holds no process yet"; fi
	$(BIN)/mutu demo load
	$(BIN)/mutu serve

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/engine.py

bench-quick: install
	$(BIN)/python bench/engine.py --quick

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache
