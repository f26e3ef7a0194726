# Two commands do all set-up: `make run` and `make test`. Both (re)create .venv in the
# checkout when pyproject.toml changes; re-running them is safe.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system run demo guides test test-db lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# System packages the tests need (command:Debian package): Chromium for the browser tests,
# bubblewrap for the sandbox, zip, and pg_dump/pg_restore for backups on PostgreSQL.
SYSTEM_PACKAGES := chromium:chromium bwrap:bubblewrap zip:zip pg_dump:postgresql-client

# Installs those whose command is missing, with apt-get (as root, else through sudo).
system:
	@missing=""; \
	for pair in $(SYSTEM_PACKAGES); do \
	    command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	[ -n "$$missing" ] || exit 0; \
	command -v apt-get >/dev/null 2>&1 || { \
	    echo "make system: no apt-get here; install these packages yourself:$$missing" >&2; exit 1; }; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	else echo "make system: installing$$missing needs root; run 'apt-get install -y$$missing' as root, or install sudo." >&2; exit 1; fi; \
	echo "make system: installing$$missing"; \
	$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing

# The site on http://127.0.0.1:$(PORT) with the built-in models scored on the built-in
# benchmarks: only pairs without a stored score are scored, so a second run serves at once.
# A dispatcher runs beside the server (which only serves): it takes submissions through
# their sandboxed tests, merge and scoring; both stop together.
# Links in the site's mails point at this server unless BRAINMARK_SITE_URL says otherwise.
PORT ?= 8000
run: setup
	$(VENV)/bin/brainmark migrate
	$(VENV)/bin/brainmark sync --score
	export BRAINMARK_SITE_URL="$${BRAINMARK_SITE_URL:-http://127.0.0.1:$(PORT)}"; \
	$(VENV)/bin/brainmark dispatcher & dispatcher=$$!; \
	trap 'kill $$dispatcher 2>/dev/null; wait $$dispatcher' EXIT INT TERM; \
	$(VENV)/bin/brainmark serve --port $(PORT)

# The site serves the user guides of docs/ from copies inside the package (so an installed
# wheel has them); this refreshes the copies after docs/ changed (a test fails until then).
# A new guide: add it to GUIDES in the folder's __init__.py and copy it there once.
GUIDES_DIR := src/brainmark/platform/site/guides
guides:
	for guide in $(GUIDES_DIR)/*.md; do cp "docs/$$(basename "$$guide")" "$$guide"; done

# The library's end-to-end demo on embedded defaults (no site).
demo: setup
	$(VENV)/bin/brainmark demo

lint: setup
	$(PY) -m ruff check src tests perf

# The whole suite runs on SQLite, whatever DATABASE_URL the shell has.
test: system setup lint
	env -u DATABASE_URL -u BRAINMARK_DATABASE_URL $(PY) -m pytest -n 2 -q

# The tests that touch the database (marker db) again, on the database DATABASE_URL names
# (.ci/run: the local PostgreSQL); each test process gets its own test database there.
test-db: setup
	test -n "$$DATABASE_URL" || { echo "make test-db: set DATABASE_URL" >&2; exit 2; }
	$(PY) -m pytest -n 2 -q -m db

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
