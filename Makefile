# Capytale — `make` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHP := node_modules/.bin/configurable-http-proxy
# Languages with a catalogue; French needs none, it is the language of the code and templates.
TRANSLATED := en

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

run: deps ## The whole platform on this machine (embedded defaults); Ctrl-C stops it all
	$(PY) -m capytale.stack run

test: deps ## The whole suite, against the real parts
	$(PY) -m pytest $(PYTEST_ARGS)

run-docker: deps ## The same, students' servers in containers (docker backend; starts a dockerd if none runs)
	$(PY) -m capytale.stack run --docker

notebook-image: deps ## The notebook image of the docker backend, built locally (cached in .cache/)
	$(PY) -m capytale.stack.notebook_image

bench: deps ## Benchmark the main flow through HAProxy; figures to bench-results.json
	$(PY) -m tests.bench

deps: $(STAMP) $(CHP) system-packages ## Install what the platform needs (venv, npm, Debian packages)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(CHP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

system-packages: ## Debian packages (haproxy, rabbitmq, docker.io, mmdebstrap), RabbitMQ/PostgreSQL started
	@scripts/system-packages.sh

screenshots: deps ## Take the README's screenshots (browser tests) into docs/screenshots/
	CAPYTALE_SCREENSHOTS=1 $(PY) -m pytest -q tests/e2e/test_teacher_browser.py

messages: deps ## Extract the texts to translate and update capytale/translations/*/messages.po
	mkdir -p var
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k N_ --no-location --sort-output -o var/messages.pot .
	for lang in $(TRANSLATED); do \
	  $(VENV)/bin/pybabel update -i var/messages.pot -d capytale/translations -l $$lang --init-missing -w 120 \
	    --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date || exit 1; \
	done

clean: ## Remove the local state (var/), keep the installs
	rm -rf var

.PHONY: help run run-docker test notebook-image bench deps system-packages screenshots messages clean
