# Capytale — `make` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SERVER_REQUIREMENTS := compose/notebook-image/requirements.txt
STUDENTS_ENV_STAMP := $(VENV)/.students-env
CHP := node_modules/.bin/configurable-http-proxy
# Languages with a catalogue; French needs none, it is the language of the code and templates.
TRANSLATED := en
BACKEND ?= process

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

run: deps ## The whole platform on this machine (embedded defaults); Ctrl-C stops it all
	$(PY) -m capytale.stack run

test: deps ## The whole suite, against the real parts
	$(PY) -m pytest $(PYTEST_ARGS)

run-docker: deps ## The same, students' servers in containers (docker backend; starts a dockerd if none runs)
	$(PY) -m capytale.stack run --docker

notebook-image: deps ## The notebook image of the docker backend, built locally (kept in ~/.cache/capytale/)
	$(PY) -m capytale.stack.notebook_image

bench: deps ## Benchmark the main flow through HAProxy (BACKEND=docker: containers); figures to bench-results-<backend>.json
	$(PY) -m tests.bench --backend $(BACKEND)

bench-load: deps ## A class of 35 saving and running cells for 4 minutes through HAProxy: every answer counted
	$(PY) -m tests.bench_load --backend $(BACKEND)

deps: $(STAMP) $(CHP) system-packages $(STUDENTS_ENV_STAMP) ## Install what the platform needs (venvs, npm, Debian packages)

# Jupyter at the versions of the notebook image (its requirements as constraints, extras left out)
$(STAMP): pyproject.toml $(SERVER_REQUIREMENTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	sed 's/\[[a-z,]*\]//' $(SERVER_REQUIREMENTS) > $(VENV)/constraints.txt
	$(PY) -m pip install --quiet -e '.[test]' -c $(VENV)/constraints.txt
	touch $@

# What students' kernels import, apart from the platform's environment (capytale/stack/students_env.py)
$(STUDENTS_ENV_STAMP): $(STAMP) environment/python.txt $(shell find environment/kernels -not -path '*/.*' \( -name '*.py' -o -name '*.toml' -o -name '*.ml' \) 2>/dev/null)
	$(PY) -m capytale.stack.students_env
	touch $@

$(CHP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

system-packages: ## Debian packages (haproxy, rabbitmq, docker.io, mmdebstrap), RabbitMQ/PostgreSQL started
	@scripts/system-packages.sh

screenshots: deps ## Take the README's screenshots (browser tests) into docs/screenshots/
	CAPYTALE_SCREENSHOTS=1 $(PY) -m pytest -q tests/e2e/test_teacher_browser.py tests/e2e/test_environment_browser.py

messages: deps ## Extract the texts to translate and update capytale/translations/*/messages.po
	mkdir -p var
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k N_ --no-location --sort-output -o var/messages.pot .
	for lang in $(TRANSLATED); do \
	  $(VENV)/bin/pybabel update -i var/messages.pot -d capytale/translations -l $$lang --init-missing -w 120 \
	    --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date || exit 1; \
	done

clean: ## Remove the local state (var/), keep the installs
	rm -rf var

.PHONY: help run run-docker test notebook-image bench bench-load deps system-packages screenshots messages clean
