# The few verbs people type. Every target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP_STAMP := $(VENV)/.setup-stamp
NPM_STAMP := node_modules/.npm-stamp

.PHONY: setup up test lint bench clean chromium

setup: $(SETUP_STAMP) $(NPM_STAMP)

$(SETUP_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

$(NPM_STAMP): package.json package-lock.json
	# `npm install` honours the lock file; `npm ci` refuses it here because the registry these machines
	# reach lacks anvil's darwin/win32 optional packages, which npm then leaves out of the lock.
	npm install --no-audit --no-fund
	touch $@

up: setup
	$(BIN)/tierflow up

# The dashboard's browser tests drive Debian's chromium (Playwright cannot download browsers here);
# a CJK font so that screenshots of the bill pages (汇票, 子票区间) show characters, not boxes.
chromium:
	(command -v chromium && dpkg -s fonts-wqy-microhei) >/dev/null 2>&1 || \
		(apt-get update && apt-get install -y chromium fonts-wqy-microhei)

test: setup chromium
	$(BIN)/tierflow compile
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	bash scripts/slither.sh

bench: setup chromium
	$(BIN)/python bench/run.py

clean:
	rm -rf .cache var build .pytest_cache .mypy_cache .ruff_cache
