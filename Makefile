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

.PHONY: setup test test-fast lint typecheck demo bench lock clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# requirements.lock pins every package (CI installs exactly these versions).
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

setup: $(STAMP)

# --durations=25: CI output names the slowest tests, so a slow one is seen when it lands.
# Two pytest-xdist workers, a test file each at a time (--dist loadfile keeps a file's
# module-scoped fixtures, such as a shared finished run, in one worker): most of the suite's time
# is spent waiting on real agents, trainers and databases, so two workers on two cores take
# 9.7 min where one took 16.6 (docs/benchmarks.md). TEST_WORKERS=1 runs it serially.
TEST_WORKERS ?= 2
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

lint: $(STAMP)
	$(BIN)/ruff check src tests bench main.py experiments.py
	$(BIN)/ruff format --check src tests bench main.py experiments.py

# pyproject.toml's [tool.mypy] says what is checked, and how strictly.
typecheck: $(STAMP)
	$(BIN)/mypy src/

# The edit loop: the SQLite half of the backend matrix, without the tests that
# train end to end or start the whole platform; `make test` runs them all, on both backends.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not postgresql" --durations=10

# The whole platform on the embedded SQLite default, with the demo run queued; Ctrl-C stops it.
# DEMO_ARGS=--exit-after-demo stops once the demo run has finished; DEMO_ARGS="--port N" if 8000 is taken.
demo: $(STAMP)
	VISIONYARD_DATA_DIR=$(CURDIR)/demo/platform $(BIN)/visionyard up --demo $(DEMO_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/train_throughput.py

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable --all | grep -v '^pip==' > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache demo runs
