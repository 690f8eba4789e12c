# serbench: `make benchmark` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
SERBENCH := $(VENV)/bin/serbench
CONFIG ?= experiments/benchmark.toml
JOBS   ?= 2
# .venv gets the package with its dev, cnn (PyTorch 2.13.0, a CPU build) and app extras;
# `make perf` adds the bench extra (openSMILE) for its reference timings.
STAMP  := $(VENV)/.stamp-dev,cnn,app

.PHONY: help venv benchmark test test-all perf ui app lint format clean synth

help:
	@echo "make benchmark   run $(CONFIG) (real corpora under SERBENCH_DATA, else synthetic)"
	@echo "make test        run the test suite (real-data tests too when SERBENCH_DATA is set)"
	@echo "make perf        extraction throughput on RAVDESS vs naive librosa (results/perf/)"
	@echo "make ui          open the MLflow UI on the results store"
	@echo "make lint        ruff"
	@echo "make clean       remove caches and the virtualenv"

$(VENV)/.stamp-%: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[$*]"
	@touch "$@"

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -q -m "not slow"

test-all: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -q

benchmark: $(STAMP)
	$(SERBENCH) run $(CONFIG) --n-jobs $(JOBS)

perf: $(VENV)/.stamp-dev,cnn,app,bench
	$(PY) -m benchmark.perf --n-jobs $(JOBS) --out results/perf

ui: $(STAMP)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/results/mlflow.db --host 127.0.0.1 --port 5000

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
