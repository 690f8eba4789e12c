# serbench: `make benchmark` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
SERBENCH := $(VENV)/bin/serbench
CONFIG ?= experiments/benchmark.toml
JOBS   ?= 2
# (pip -qq: errors only; this machine's pip config warns about local indexes on every call.)
# .venv gets the package with its dev, cnn (PyTorch 2.13.0, a CPU build) and app extras,
# then compiles the numba kernels once (`serbench warm`), so no later command pays for it.
# pip runs with -qq (errors only): a machine's pip config may warn on every call.
STAMP  := $(VENV)/.stamp-dev,cnn,app

.PHONY: help venv benchmark reference test test-slow test-all perf reference-perf ui ui-check app lint format \
	clean synth

help:
	@echo "make benchmark   run $(CONFIG) into runs/ (real corpora under SERBENCH_DATA, else synthetic)"
	@echo "make reference   run $(CONFIG) into results/, the committed references (on purpose only)"
	@echo "make test        run the test suite (real-data tests too when SERBENCH_DATA is set)"
	@echo "make test-slow   the slow tests only (whole experiments, the MLflow UI in Chromium)"
	@echo "make test-all    both"
	@echo "make perf        extraction throughput on RAVDESS vs naive librosa (runs/perf/)"
	@echo "make reference-perf  the same into results/perf/"
	@echo "make ui          open the MLflow UI on the store the last run wrote"
	@echo "make ui-check    drive the MLflow UI of a smoke run in headless Chromium; screenshots in docs/"
	@echo "make lint        ruff"
	@echo "make clean       remove caches and the virtualenv"

# The example plug-in (docs/extending.md) is installed too: the tests use its entry points.
EXAMPLE := examples/serbench_example_plugin
$(VENV)/.stamp-%: pyproject.toml $(EXAMPLE)/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -qq --upgrade pip
	$(PIP) install -qq -e ".[$*]"
	$(PIP) install -qq -e $(EXAMPLE)
	$(VENV)/bin/serbench warm
	@touch "$@"

venv: $(STAMP)

# --dist loadgroup: the tests that share a session fixture (xdist_group) run in one worker,
# which builds it once.
PYTEST := $(PY) -m pytest -n $(JOBS) --dist loadgroup -q

test: $(STAMP)
	$(PYTEST) -m "not slow"

# The slow tests get the ui extra (Playwright) so that tests/test_ui.py drives the system Chromium.
test-slow: $(VENV)/.stamp-ui
	$(PYTEST) -m slow

test-all: $(VENV)/.stamp-ui
	$(PYTEST)

benchmark: $(STAMP)
	$(SERBENCH) run $(CONFIG) --n-jobs $(JOBS)

reference: $(STAMP)
	$(SERBENCH) run $(CONFIG) --n-jobs $(JOBS) --results-dir results

perf: $(STAMP)
	$(PY) -m benchmark.perf --n-jobs $(JOBS) --out runs/perf

reference-perf: $(STAMP)
	$(PY) -m benchmark.perf --n-jobs $(JOBS) --out results/perf

ui: $(STAMP)
	$(SERBENCH) ui

$(VENV)/.stamp-ui: $(STAMP)

ui-check: $(VENV)/.stamp-ui
	$(SERBENCH) run experiments/smoke.toml --n-jobs $(JOBS) -q --results-dir runs/ui-check
	$(PY) docs/ui_check.py runs/ui-check/mlflow.db smoke docs

app: $(STAMP)
	$(SERBENCH) app

lint: $(STAMP)
	$(VENV)/bin/ruff check benchmark features tests

format: $(STAMP)
	$(VENV)/bin/ruff format benchmark features tests

synth: $(STAMP)
	$(SERBENCH) synth data/synth

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info .cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
