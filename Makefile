# Every target sets itself up: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export HF_HUB_DISABLE_TELEMETRY := 1
# The tests never reach the Hugging Face Hub (their models are local folders, and an unreachable
# Hub costs ~25 s a load to fail). Only the test targets run offline: the platform `make demo`
# leaves running is the one people go on using with their own Hub models.
test test-fast lint typecheck: export HF_HUB_OFFLINE := 1
# The browser tests drive the system's Chromium: Playwright's own browser download needs a
# network that test machines lack. `make test` installs Debian's package when CHROMIUM is
# missing (as root; CHROMIUM=/path/to/chrome uses another), and a browser test that finds no
# browser fails there instead of skipping, so that CI cannot pass without running them.
CHROMIUM ?= /usr/bin/chromium
APT_GET  ?= apt-get
test: export VISIONYARD_REQUIRE_BROWSER := 1
# The tests of partial JPEG decoding fail instead of skipping when the extension is missing;
# `make test` installs Debian's libjpeg headers first when they are missing (as root).
test: export VISIONYARD_REQUIRE_JPEG_CROP := 1
JPEG_HEADER ?= /usr/include/jpeglib.h
test: export VISIONYARD_CHROMIUM := $(CHROMIUM)

.PHONY: setup test test-fast lint typecheck demo demo-ui ui ui-check api-types bench lock clean

# The web UI (web_ui/, Next.js): `npm ci` when the lock changes, `next build` (a static export
# in web_ui/out/, which the dashboard serves at /) when a source changes; otherwise nothing.
NPM       ?= npm
UI        := web_ui
UI_DEPS   := $(UI)/node_modules/.installed-stamp
UI_BUILD  := $(UI)/out/index.html
UI_SOURCES := $(shell find $(UI)/app $(UI)/components $(UI)/lib -type f 2>/dev/null) \
	$(addprefix $(UI)/,package.json package-lock.json next.config.ts postcss.config.mjs tsconfig.json)
export NEXT_TELEMETRY_DISABLED := 1

# setup.py builds the one C extension (partial JPEG decoding against the system's libjpeg); it
# is optional: without libjpeg's headers the install succeeds and JPEGs are decoded whole.
$(STAMP): pyproject.toml requirements.lock setup.py src/visionyard/training/_jpegcrop.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# requirements.lock pins every package (CI installs exactly these versions).
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@$(BIN)/python -c "from visionyard.training import jpeg_crop; jpeg_crop.available() or print('make: note: built without partial JPEG decoding (libjpeg headers missing: apt-get install libjpeg-dev, then rm $@ && make setup); training decodes whole JPEGs, which is slower')"
	touch $@

setup: $(STAMP)

$(UI_DEPS): $(UI)/package.json $(UI)/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "make: the web UI needs Node.js 20+ and npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	cd $(UI) && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

$(UI_BUILD): $(UI_DEPS) $(UI_SOURCES)
	cd $(UI) && $(NPM) run build
	@touch $@

ui: $(UI_BUILD)

ui-check: $(UI_DEPS)
	cd $(UI) && $(NPM) run --silent lint && $(NPM) run --silent typecheck

# After changing the API: the OpenAPI document and the UI's types generated from it (committed;
# tests/web_ui/test_api_types.py fails when they drift from the app).
api-types: $(STAMP) $(UI_DEPS)
	$(BIN)/python -m visionyard.dashboard.openapi_export $(UI)/lib/api/openapi.json
	cd $(UI) && $(NPM) run --silent gen:api

# The demo builds the UI where Node.js is installed; without it the API still starts (and its
# front page says how to build the UI).
demo-ui:
	@if command -v $(NPM) >/dev/null; then $(MAKE) --no-print-directory ui; \
	else echo "make: Node.js/npm not found: the dashboard starts without its web UI (install Node.js 20+, then make ui)"; fi

$(CHROMIUM):
	@echo "Installing Chromium for the browser tests ($@ is missing)"
	$(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq --no-install-recommends chromium \
	  || { echo "make: could not install Chromium, which the browser tests need: run 'apt-get install chromium' as root, or name a Chromium or Chrome you have: make test CHROMIUM=/path/to/chromium" >&2; exit 1; }
	@test -x $@ || { echo "make: the chromium package did not provide $@; name the browser to use: make test CHROMIUM=/path/to/chromium" >&2; exit 1; }

$(JPEG_HEADER):
	@echo "Installing libjpeg's headers for the partial JPEG decoder ($@ is missing)"
	$(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq --no-install-recommends libjpeg-dev \
	  || { echo "make: could not install libjpeg's headers: run 'apt-get install libjpeg-dev' as root, or name the header you have: make test JPEG_HEADER=/path/to/jpeglib.h" >&2; exit 1; }
	rm -f $(STAMP)

# --durations=25: CI output names the slowest tests, so a slow one is seen when it lands.
# Two pytest-xdist workers, a test file each at a time (--dist loadfile keeps a file's
# module-scoped fixtures, such as a shared finished run, in one worker): most of the suite's time
# is spent waiting on real agents, trainers and databases, so two workers on two cores take
# 9.7 min where one took 16.6 (docs/benchmarks.md). TEST_WORKERS=1 runs it serially.
TEST_WORKERS ?= 2
test: $(JPEG_HEADER) $(STAMP) $(CHROMIUM) lint typecheck ui-check $(UI_BUILD)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

lint: $(STAMP)
	$(BIN)/ruff check src tests bench main.py experiments.py setup.py
	$(BIN)/ruff format --check src tests bench main.py experiments.py setup.py

# pyproject.toml's [tool.mypy] says what is checked, and how strictly.
typecheck: $(STAMP)
	$(BIN)/mypy src/

# The edit loop: the SQLite half of the backend matrix, without the tests that
# train end to end or start the whole platform (nor the browser tests, which start a server);
# `make test` runs them all, on both backends.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not postgresql" --durations=10

# The whole platform on the embedded SQLite default, with the demo run queued; Ctrl-C stops it.
# DEMO_ARGS=--exit-after-demo stops once the demo run has finished; DEMO_ARGS="--port N" if 8000 is taken.
demo: $(STAMP) demo-ui
	VISIONYARD_DATA_DIR=$(CURDIR)/demo/platform $(BIN)/visionyard up --demo $(DEMO_ARGS)

# The CPU benchmark suite, one script after another (quick defaults; docs/benchmarks.md).
bench: $(STAMP)
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/data_pipeline.py
	$(BIN)/python bench/normalise_bench.py
	$(BIN)/python bench/settings_bench.py
	$(BIN)/python bench/output_relay_bench.py

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable --all | grep -v '^pip==' > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .browser demo runs $(UI)/node_modules $(UI)/.next $(UI)/out
