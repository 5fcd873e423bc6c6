# Two commands on a fresh machine: `make run` (demo) and `make test` (everything).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := PINGAN_DATABASE_URL=sqlite:///var/demo.db PINGAN_DEMO=true PINGAN_MQTT_URL=mqtt://127.0.0.1:1883 PINGAN_DATA_KEY=$$(cat var/demo.key)

.PHONY: install run test lint check-types unit clean demo-data i18n screenshots

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The try-it-now start: a demo database under var/ with the demo territory and accounts.
run: install
	mkdir -p var
	# The demo's own data key (faces, door cards, checkpoint codes); a deployment sets its own.
	test -s var/demo.key || $(BIN)/pingan keygen > var/demo.key 2>/dev/null
	$(DEMO) $(BIN)/pingan init
	$(DEMO) $(BIN)/pingan demo-data
	@echo "模拟设备在平台启动后开始发送，日志 var/simulate.log (simulated devices: var/simulate.log)"
	$(DEMO) $(BIN)/pingan simulate --fleet demo > var/simulate.log 2>&1 &
	$(DEMO) $(BIN)/pingan serve

lint: install
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

check-types: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

test: lint check-types unit

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache

# New words marked with _() in templates or N_() in code go into the English catalogue (msgstr "").
i18n: install
	mkdir -p var
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ --no-location --sort-output -o var/messages.pot .
	$(BIN)/pybabel update -i var/messages.pot -d src/pingan/locale -D messages -l en --no-fuzzy-matching --ignore-obsolete

# The README's pictures, taken in Chromium of the demo as `make run` builds it.
screenshots: install
	$(BIN)/python scripts/screenshots.py
