# Two commands: `make demo` serves the example site, `make test` runs the suite.
# Both create .venv and install the package (editable, with its test extras) when needed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MANAGE := $(BIN)/python example_site/manage.py
# The demo always runs on SQLite with Celery eager, whatever the shell exports.
DEMO_ENV := env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL

.PHONY: demo test lint format bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(INSTALLED)

demo: $(INSTALLED)
	$(DEMO_ENV) $(MANAGE) migrate --noinput -v 0
	$(DEMO_ENV) $(MANAGE) load_dynchat_demo --history
	$(DEMO_ENV) $(MANAGE) runserver 127.0.0.1:8000

test: $(INSTALLED)
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(INSTALLED)
	$(BIN)/python bench/widget_size.py
	$(BIN)/python bench/tag_overhead.py
	$(BIN)/python bench/bootstrap.py
	$(BIN)/python bench/slots.py
	$(BIN)/python bench/offer.py
	$(BIN)/python bench/munchkin_bootstrap.py
# Need PostgreSQL (DATABASE_URL): bench/marketo_initial_sync.py, bench/marketo_activity_push.py,
# bench/marketo_sync_page.py, bench/rollup.py, bench/report_views.py (fills 10M events: about 20
# minutes; `--events 1000000 --days 9` for a quick run).

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache example_site/db.sqlite3

# Regenerate the gettext catalogues from the package's sources and compile them; commit both the
# .po and the .mo files. makemessages merges, so existing translations are kept (a changed source
# text comes back marked fuzzy, for review). No settings module: extracting and compiling need
# none, so the package is never imported and half-finished code elsewhere cannot break this.
MESSAGES := cd wagtail_dynchat && env -u DJANGO_SETTINGS_MODULE $(abspath $(BIN))/python -m django
.PHONY: messages
messages: $(INSTALLED)
	$(MESSAGES) makemessages -l de -l fr -l es -l en --no-obsolete --add-location file \
		--ignore "static/*"
	$(MESSAGES) compilemessages
