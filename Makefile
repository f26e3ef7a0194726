# Two commands do all set-up: `make run` and `make test`. Both (re)create .venv in the
# checkout when pyproject.toml changes; re-running them is safe.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test test-db lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/brainmark demo

lint: setup
	$(PY) -m ruff check src tests perf

# The whole suite runs on SQLite, whatever DATABASE_URL the shell has.
test: setup lint
	env -u DATABASE_URL -u BRAINMARK_DATABASE_URL $(PY) -m pytest -n 2 -q

# The tests that touch the database (marker db) again, on the database DATABASE_URL names
# (.ci/run: the local PostgreSQL); each test process gets its own test database there.
test-db: setup
	test -n "$$DATABASE_URL" || { echo "make test-db: set DATABASE_URL" >&2; exit 2; }
	$(PY) -m pytest -n 2 -q -m db

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
