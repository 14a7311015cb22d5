# servicedesk: the two commands are `make run` and `make test`.
SHELL := /bin/bash
# A recipe's pipeline fails when pip fails, not only when its filter does.
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The settings module of `make run` and `make migrate` (the tests always run
# servicedesk.settings.test, whatever the shell exports).
SETTINGS ?= servicedesk.settings.local
MANAGE := DJANGO_SETTINGS_MODULE=$(SETTINGS) $(PY) manage.py
# pip's progress, one line per package it fetches, instead of a minute of silence.
PIP_PROGRESS := sed -u -n -e 's/^\(Collecting\|Successfully installed\)/  \1/p'

.PHONY: help run test install install-dev migrate lint format check clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "servicedesk needs Python 3.11 (set PYTHON=/path/to/python3.11)"'
	@echo "Creating $(VENV) and installing the dependencies (about a minute the first time)..."
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime-installed: $(VENV)/bin/python requirements.txt
	$(PIP) install --progress-bar off -r requirements.txt | $(PIP_PROGRESS)
	@touch $@

$(VENV)/.dev-installed: $(VENV)/bin/python requirements.txt requirements-dev.txt
	$(PIP) install --progress-bar off -r requirements-dev.txt | $(PIP_PROGRESS)
	@touch $@ $(VENV)/.runtime-installed

install: $(VENV)/.runtime-installed  ## Create .venv and install the runtime dependencies

install-dev: $(VENV)/.dev-installed  ## Create .venv and install test and lint dependencies

migrate: install  ## Apply database migrations
	$(MANAGE) migrate --noinput

run: migrate  ## Install, migrate and serve on http://127.0.0.1:8000 (embedded default: SQLite, in-process tasks)
	@$(MANAGE) bootstrap_admin --base-url http://$(HOST):$(PORT)
	$(MANAGE) runserver $(HOST):$(PORT)

test: install-dev  ## Install dev dependencies and run the test suite
	$(PY) -m pytest --ds=servicedesk.settings.test $(PYTEST_ARGS)

lint: install-dev  ## ruff check, format check, the import layers (lint-imports) and types (mypy)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: install-dev  ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:  ## Remove the virtualenv and local state under var/
	rm -rf $(VENV) var
