# The two commands a newcomer needs:
#   make run    installs everything, migrates the embedded SQLite database, loads the demo data and
#               starts the portal with its background worker; prints the URL and the demo logins.
#   make test   runs the whole test suite (PostgreSQL at DATABASE_URL; defaults to the local server).
SHELL := /bin/bash
# Python 3.11, 3.12 or 3.13: python3 when it is one of them, otherwise the newest python3.1x that runs.
# `make install PYTHON=/path/to/python3.12` chooses; anything outside 3.11-3.13 is refused.
SUPPORTED_PYTHON := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
ifndef PYTHON
PYTHON := $(shell for p in python3 python3.13 python3.12 python3.11; do \
  $$p -c '$(SUPPORTED_PYTHON)' >/dev/null 2>&1 && { command -v $$p; break; }; done)
endif
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal
PYTEST_ARGS ?=

.PHONY: install run test lint format migrate seed clean

$(BIN)/python:
	@if [ -z "$(PYTHON)" ] || ! "$(PYTHON)" -c '$(SUPPORTED_PYTHON)' 2>/dev/null; then \
	  echo "The portal needs Python 3.11, 3.12 or 3.13; $(or $(PYTHON),python3) is" \
	    "$$( ($(or $(PYTHON),python3) --version) 2>&1 | head -1)." >&2; \
	  echo "Install one of them, or point make at it: make run PYTHON=/path/to/python3.12" >&2; \
	  exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.lock
	@# A regular (not editable) install: the project ships no packages (it runs from this checkout), so
	@# this only installs the pinned dependencies, without setuptools' editable-install warnings.
	$(BIN)/pip install --quiet -c requirements.lock ".[dev]"
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput -v 0

seed: migrate
	$(BIN)/python manage.py seed_demo

run: install
	bash scripts/run.sh $(HOST) $(PORT)

test: install
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy apps config
	$(BIN)/lint-imports
	@mkdir -p var
	DATABASE_URL=sqlite:///$(CURDIR)/var/lint-check.sqlite3 $(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
