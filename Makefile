# Two commands do all the set-up on a fresh machine:
#   make run    install into .venv, migrate, load the MAML table, serve the site and a worker
#   make test   install into .venv, lint, run the whole test suite on PostgreSQL, then on SQLite
#               (docs/testing.md: one database only, one file, the markers, the tool venvs)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install run test test-postgres test-sqlite lint format clean

# The suite's runs: pytest-xdist workers (one per core: TEST_WORKERS=0 runs in one process),
# a file's tests kept on one worker (module fixtures built once). PostgreSQL is DATABASE_URL
# where it names one, else the local server's; SQLite is a file under var/ (each worker its own).
TEST_WORKERS ?= auto
PYTEST := $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile -p no:cacheprovider
POSTGRES_URL ?= $(if $(filter postgres://% postgresql://%,$(DATABASE_URL)),$(DATABASE_URL),postgres://postgres@127.0.0.1:5432/verisota)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_seed
	$(PY) manage.py collectstatic --noinput -v 0
	./scripts/run.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Both databases, the second run even when the first fails; non-zero if either failed.
# The whole suite runs on PostgreSQL; on SQLite, the tests that reach the database (a test
# that asks for no database fixture gives the same outcome whichever DATABASE_URL is set:
# tests/conftest.py, --database-tests-only). `make test-sqlite` alone runs them all.
test: lint
	@status=0; \
	$(MAKE) --no-print-directory test-postgres || status=1; \
	$(MAKE) --no-print-directory test-sqlite PYTEST_ARGS="--database-tests-only $(PYTEST_ARGS)" || status=1; \
	exit $$status

test-postgres: install
	DATABASE_URL=$(POSTGRES_URL) $(PYTEST) $(PYTEST_ARGS)

test-sqlite: install
	DATABASE_URL=sqlite:///$(CURDIR)/var/db.sqlite3 $(PYTEST) $(PYTEST_ARGS)

clean:
	rm -rf var/ .pytest_cache
