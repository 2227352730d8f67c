# The front door. `make help` lists the verbs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
# actionlint + shellcheck (requirements/workflow-lint.in says why this packaging).
WORKFLOW_LINT_VENV := .venv-workflow-lint
PY := $(VENV)/bin/python
PORT ?= 8080
# The embedded local store that `train` writes and `serve` reads.
MODEL_STORE ?= $(CURDIR)/.models

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# The oldest Python the project runs on: pyproject.toml's requires-python (">=3.11").
PYTHON_MIN := $(shell sed -n 's/^requires-python = ">=\([0-9.]*\)"$$/\1/p' pyproject.toml)
# Empty when $(PYTHON) is at least PYTHON_MIN, else the one line the virtualenv recipes stop with before they
# create anything (an older Python otherwise fails 20 KB into pip's output). Expanded only when a recipe runs.
python_too_old = $(shell found="$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)"; \
	echo "$$found" | awk -F. -v min="$(PYTHON_MIN)" -v python="$(PYTHON)" '{ split(min, m, ".") } \
	!(/^[0-9]+\.[0-9]+$$/ && ($$1 > m[1] || ($$1 == m[1] && $$2 >= m[2]))) { \
	printf "lambda-model needs Python %s+ (found %s)\n", min, ($$0 == "" ? "no working " python : $$0) }')
check_python = $(if $(python_too_old),$(error $(python_too_old)))

.PHONY: help setup serve train report test lint bench lock clean iam rehearse

help: ## List the verbs
	@grep -E '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | sed 's/$$(PORT)/$(PORT)/g' \
		| awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	$(check_python)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements/dev.txt
	# The project itself, editable: lambda_model (app/) and the CI tools (tools/) import without PYTHONPATH.
	$(PY) -m pip install --quiet --no-deps --editable .
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(check_python)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements/checkov.txt
	touch $@

$(WORKFLOW_LINT_VENV)/.installed: requirements/workflow-lint.txt
	$(check_python)
	$(PYTHON) -m venv $(WORKFLOW_LINT_VENV)
	$(WORKFLOW_LINT_VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements/workflow-lint.txt
	touch $@

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(WORKFLOW_LINT_VENV)/.installed ## Create the virtualenvs from the locked requirements

train: $(VENV)/.installed ## Train on the bundled iris data into the local store
	$(PY) -m lambda_model train --store $(MODEL_STORE)

# Where `make report` writes; PARAMS="n_estimators=50 max_depth=2" trains the candidate with other parameters.
REPORT_DIR := build/report
PARAMS ?=

report: $(VENV)/.installed ## Train a candidate (not promoted) and report it against the current version in build/report/
	mkdir -p $(REPORT_DIR)
	$(PY) -m lambda_model train --store $(MODEL_STORE) --no-promote --summary-json $(REPORT_DIR)/candidate.json \
		$(foreach parameter,$(PARAMS),--param $(parameter))
	$(PY) -m lambda_model report --baseline $(MODEL_STORE) --out $(REPORT_DIR) \
		--candidate "$$($(PY) -c 'import json, sys; print(json.load(open(sys.argv[1]))["uri"])' $(REPORT_DIR)/candidate.json)"
	@echo "Open $(REPORT_DIR)/report.html (pictures inlined) or $(REPORT_DIR)/report.md."

serve: train ## Train, then serve the API on http://127.0.0.1:$(PORT)
	PORT=$(PORT) MODEL_URI=$(MODEL_STORE) $(PY) -m lambda_model serve

# Branch coverage of app/ and tools/ (pyproject.toml's [tool.coverage.*]), subprocesses included; the report
# is printed whether or not the tests passed, and its floor (fail_under) fails the target on its own.
COVERAGE_DIR := build/coverage
# Test files run on this many workers, each file whole on one (its module fixtures are built once). Most of
# the suite waits on terraform, moto and servers rather than the CPU, so 4 beat 2 on a 2-core machine.
TEST_WORKERS ?= 4

test: setup ## Run every test: unit, integration, Terraform, workflows, robustness, IAM, release, rehearsal; coverage
	rm -rf $(COVERAGE_DIR) && mkdir -p $(COVERAGE_DIR)
	$(PY) -m coverage run -m pytest -n $(TEST_WORKERS) --dist loadfile; tests=$$?; \
		$(PY) -m coverage combine --quiet && $(PY) -m coverage report; covered=$$?; \
		exit $$(( tests ? tests : covered ))

test-%: setup ## One folder of tests/: test-unit, -integration, -terraform, -workflows, -robustness, ...
	$(PY) -m pytest tests/$*

# What the folders whose name does not say it prove (no recipe of their own: test-% runs them).
test-iam: ## tests/iam: each AWS call of both stages (recorded on moto) is allowed to its role, each grant used; cross-stage attempts denied
test-release: ## tests/release: the release tool rolls out, canaries, rolls back and cancels as the release job runs it
test-rehearsal: ## tests/rehearsal: the rehearsal's workflow runner and AWS stand-ins behave as GitHub and AWS do

iam: $(VENV)/.installed ## Recorded AWS calls per role of both stages against the rendered policies, the denied cross-stage attempts, every IAM check
	$(PY) -m pytest tests/iam -q -s

rehearse: $(VENV)/.installed ## Play the documented life (bootstrap .. failing gate) from the workflows' steps against moto, IAM-judged; build/rehearsal.md
	$(PY) -m rehearsal

lint: setup ## ruff, terraform fmt, hadolint, zizmor, actionlint + shellcheck, checkov
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	terraform fmt -check -recursive terraform
	$(VENV)/bin/hadolint app/Dockerfile
	$(VENV)/bin/zizmor --offline --strict-collection .github
	$(WORKFLOW_LINT_VENV)/bin/actionlint -shellcheck=$(WORKFLOW_LINT_VENV)/bin/shellcheck
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --quiet --compact --framework terraform --skip-download -d terraform

bench: setup ## Benchmark the serving path against a seed-style baseline
	$(PY) bench/run.py

lock: ## Re-resolve every requirements file (needs uv)
	requirements/lock.sh

clean: ## Remove virtualenvs, the local store and caches
	rm -rf $(VENV) $(CHECKOV_VENV) $(WORKFLOW_LINT_VENV) $(MODEL_STORE) .pytest_cache
