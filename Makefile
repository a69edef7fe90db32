# The few verbs people type. Every target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP_STAMP := $(VENV)/.setup-stamp
NPM_STAMP := node_modules/.npm-stamp

.PHONY: setup up test lint bench clean chromium translations

setup: $(SETUP_STAMP) $(NPM_STAMP)

$(SETUP_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

$(NPM_STAMP): package.json package-lock.json
	# `npm ci` installs exactly the committed lock and never rewrites it (`npm install` did, adding
	# anvil's darwin/win32 optional packages once the registry served them: a fresh clone came out
	# modified). Install scripts stay off: anvil's native binary is its own package, and swagger-ui-dist's
	# @scarf/scarf would only report the install.
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

up: setup
	TIERFLOW_ENVIRONMENT=development $(BIN)/tierflow up

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

# Extract every marked string (babel.cfg), merge new ones into both catalogues (empty, never a fuzzy
# guess), then compile them to check their syntax and print how much is translated. The app reads the
# .po files themselves; the .mo files land in build/ (ignored). tests/test_i18n.py fails on a
# zh_CN entry left empty or fuzzy.
LOCALE_DIR := src/tierflow/platform/locale
translations: setup
	mkdir -p build/locale
	$(BIN)/pybabel --quiet extract -F babel.cfg --no-location --sort-output --no-wrap \
		-k _ -k gettext -k lazy_gettext -k N_ -k ngettext:1,2 -k pgettext:1c,2 \
		-o build/messages.pot src/tierflow
	$(BIN)/pybabel --quiet update -i build/messages.pot -d $(LOCALE_DIR) --no-fuzzy-matching \
		--ignore-obsolete --no-wrap
	for lang in zh_CN en; do \
		mkdir -p build/locale/$$lang/LC_MESSAGES && \
		$(BIN)/pybabel compile --statistics -i $(LOCALE_DIR)/$$lang/LC_MESSAGES/messages.po \
			-o build/locale/$$lang/LC_MESSAGES/messages.mo -l $$lang || exit 1; \
	done

clean:
	rm -rf .cache var build .pytest_cache .mypy_cache .ruff_cache
