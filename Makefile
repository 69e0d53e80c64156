# Stagecast: `make run` serves the embedded default; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-quick soak chaos clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24,<26"

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m gunicorn -c gunicorn.conf.py wsgi:app

test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) bench/run.py

# Fails (exit 1) if Stagecast's CPU per event or memory per stream regressed by more than 15%
# against the committed baseline, relative to FastAPI's (docs/benchmarks.md, "Regression check").
# Prints the table; `bench/run.py --quick --docs` also writes it into docs/benchmarks.md.
bench-quick: $(STAMP)
	$(PY) bench/run.py --quick

# About 10 minutes of steady load on one worker; prints its RSS over time (docs/benchmarks.md).
soak: $(STAMP)
	$(PY) bench/soak.py

# Randomized fault schedules over three local hosts, a redis-server and a fresh database, for
# CHAOS_BUDGET_S seconds (default 600) from CHAOS_SEED; prints faults and violations (docs/faults.md).
chaos: $(STAMP)
	$(PY) -m tests.chaos

clean:
	rm -rf $(VENV) var artifacts bench/.venv-langgraph-server
