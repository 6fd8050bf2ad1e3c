# LossLab: `make run` serves it locally, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-mlflow-venv check-deploy clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runlocal

# Browser tests drive Debian's Chromium; install it when missing and we may.
chromium:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -q chromium chromium-driver >/dev/null || \
	   (apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null)); } || \
	  echo "chromium not installed: browser tests will be skipped"

# The rules first (seconds): lint and format (ruff), then the import contracts (import-linter,
# in pyproject.toml), then the suite.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: $(STAMP) chromium lint
	$(PY) -m pytest

# The benchmark compares against MLflow, installed only in its own venv (never an app dependency).
MLFLOW_VENV := bench/.venv-mlflow
MLFLOW_STAMP := $(MLFLOW_VENV)/.installed

$(MLFLOW_STAMP): bench/requirements-mlflow.txt
	test -x $(MLFLOW_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet -r bench/requirements-mlflow.txt
	touch $(MLFLOW_STAMP)

bench-mlflow-venv: $(MLFLOW_STAMP)

# Prints one table (LossLab beside a bare PyTorch loop and MLflow) and records it in docs/benchmarks.md.
bench: $(STAMP) $(MLFLOW_STAMP) chromium
	mkdir -p bench/out
	$(PY) -m bench --markdown docs/benchmarks.md --json bench/out/last.json

clean:
	rm -rf var/test.sqlite3* var/checkpoints test-artifacts
