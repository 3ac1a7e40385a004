# codesign.windows: the two commands a newcomer needs are `make demo` and `make test`.
# Both do all set-up on a machine that has only Python: a virtual environment on the newest
# Python found (3.13, else 3.12, else 3.11 with ansible-core 2.19), pinned tools from PyPI, and
# ansible.windows extracted from the pinned `ansible` wheel (Galaxy is not needed).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell scripts/find-python)
PY_MINOR := $(shell $(PYTHON) -c 'import sys; print(sys.version_info[1])' 2>/dev/null)
CORE ?= $(if $(filter 11,$(PY_MINOR)),2.19,2.21)
VENV ?= .venv
COLLECTIONS ?= .work/collections
BIN := $(CURDIR)/$(VENV)/bin
# Python 3.11 runs the compatibility passes: ansible-core 2.16 (what AAP 2.5 execution environments
# ship; the oldest meta/runtime.yml allows) and 2.19 (the newest on 3.11), each in its own venv.
COMPAT_PYTHON ?= $(shell scripts/find-python 3.11)
REPORT_DIR ?= $(CURDIR)/reports
# The pinned JavaScript linter (tests/js/package.json and its lock), installed apart from the sources.
JS_TOOLS := .work/js

export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(COLLECTIONS)
export ANSIBLE_CONFIG := $(CURDIR)/tests/ansible.cfg
export PATH := $(BIN):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help demo demo-remediate test setup system-deps unit e2e sanity lint docs-check changelog-lint \
        molecule compat compat-core2.16 compat-core2.19 e2e-gather importer benchmark mutation clean \
        requirements-refresh js-lint

help:
	@echo "make demo   - start the emulated Windows fleet, assess it, write reports/ (HTML, CSV, JSON)"
	@echo "make demo-remediate - the same fleet through prepare_upgrade with every update at hand: before/ and after/"
	@echo "make test   - every check: unit, end-to-end over WinRM, sanity, lint, docs, molecule, 2.16, 2.19"
	@echo "using $(PYTHON) (ansible-core $(CORE)) in $(VENV)"

# ---------------------------------------------------------------- set-up
$(VENV)/.installed: requirements/dev-core$(CORE).txt requirements/collections-core$(CORE).txt \
                    scripts/install-collections
	test -n "$(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev-core$(CORE).txt
	$(BIN)/python scripts/install-collections --requirements requirements/collections-core$(CORE).txt \
	    --dest $(COLLECTIONS)
	touch $@

setup: $(VENV)/.installed

# Debian packages the tests use: osslsigncode signs test binaries, chromium renders the report.
system-deps:
	scripts/system-deps

# ---------------------------------------------------------------- the main job
demo: setup
	$(BIN)/python scripts/demo --report-dir $(REPORT_DIR)

# The same fleet remediated: prepare_upgrade with every update the catalog names; reports in before/ and after/.
demo-remediate: setup
	$(BIN)/python scripts/demo --remediate --report-dir $(REPORT_DIR)

# ---------------------------------------------------------------- checks
test: setup system-deps
	$(MAKE) unit
	$(MAKE) e2e
	$(MAKE) docs-check
	$(MAKE) changelog-lint
	$(MAKE) lint
	$(MAKE) sanity
	$(MAKE) molecule
	$(MAKE) importer
	$(MAKE) compat
	@echo "make test: every check passed"

unit: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

e2e: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/e2e

# The version-sensitive end-to-end part: acs_facts gathering the whole fleet through each connection's exec.
e2e-gather: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/e2e/test_acs_facts.py tests/e2e/test_acs_facts_bootstrap.py

docs-check: setup
	$(BIN)/python scripts/check-docs
	$(BIN)/python scripts/render-catalog-doc --check
	$(BIN)/python scripts/build-docsite

changelog-lint: setup
	$(BIN)/antsibull-changelog lint
	$(BIN)/python scripts/check-changelog-release

lint: setup js-lint
	$(BIN)/ansible-lint --offline -q

$(JS_TOOLS)/.installed: tests/js/package.json tests/js/package-lock.json
	mkdir -p $(JS_TOOLS)
	cp tests/js/package.json tests/js/package-lock.json $(JS_TOOLS)/
	cd $(JS_TOOLS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# The script the HTML report ships (plugins/plugin_utils/_report/templates/report.js).
js-lint: $(JS_TOOLS)/.installed
	$(JS_TOOLS)/node_modules/.bin/eslint --config tests/js/eslint.config.mjs --max-warnings 0 'plugins/**/*.js'

sanity: setup
	$(BIN)/python scripts/run-sanity --python $(PYTHON)

molecule: setup
	NO_COLOR=1 PY_COLORS=0 $(BIN)/molecule test --all

# galaxy-importer (what Galaxy and Automation Hub run on upload) on the built tarball, in its own venv.
IMPORTER_VENV := .venv-importer
$(IMPORTER_VENV)/.installed: requirements/importer.txt
	$(PYTHON) -m venv $(IMPORTER_VENV)
	$(IMPORTER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/importer.txt
	touch $@

importer: setup $(IMPORTER_VENV)/.installed
	rm -rf .work/dist && mkdir -p .work/dist
	$(BIN)/ansible-galaxy collection build --output-path .work/dist .
	cd .work/dist && PATH=$(CURDIR)/$(IMPORTER_VENV)/bin:$$PATH $(CURDIR)/$(IMPORTER_VENV)/bin/python \
	    -m galaxy_importer.main codesign-windows-*.tar.gz 2>&1 | tee importer.log
	! grep -E '^(ERROR|WARNING)' .work/dist/importer.log

# The version-sensitive suites on the older ansible-core releases, on Python 3.11: unit and the
# acs_facts gather on 2.16, unit and every end-to-end suite on 2.19.
compat: compat-core2.16 compat-core2.19

compat-core2.16:
	@if [ -z "$(COMPAT_PYTHON)" ]; then echo "compat: no Python 3.11 found, skipped"; exit 0; fi
	$(MAKE) unit e2e-gather PYTHON=$(COMPAT_PYTHON) CORE=2.16 VENV=.venv-core2.16 \
	    COLLECTIONS=.work/collections-core2.16

compat-core2.19:
	@if [ -z "$(COMPAT_PYTHON)" ]; then echo "compat: no Python 3.11 found, skipped"; exit 0; fi
	@if [ "$(CORE)" = 2.19 ] && [ "$(VENV)" = .venv ]; then echo "compat: the main run is ansible-core 2.19"; exit 0; fi
	$(MAKE) unit e2e PYTHON=$(COMPAT_PYTHON) CORE=2.19 VENV=.venv-core2.19 \
	    COLLECTIONS=.work/collections-core2.19

benchmark: setup
	$(BIN)/python tests/benchmarks/run.py $(BENCHMARK_ARGS)

# Mutation testing, not part of `make test` (docs/testing.md, "Mutation testing"). MUTATION_SAMPLE=0 runs every mutant.
mutation: setup
	$(BIN)/python tests/mutation/run.py

clean:
	rm -rf .venv .venv-core2.16 .venv-core2.19 .venv-importer .work tests/output reports

requirements-refresh:
	@echo "Create a fresh venv per Python, pip install the unpinned tool list, then pip freeze into"
	@echo "requirements/dev-core2.21.txt (3.13) and requirements/dev-core2.19.txt (3.11)."
	@echo "For requirements/dev-core2.16.txt (3.11) install only ansible-core 2.16 and the unit and"
	@echo "end-to-end test tools (pytest, hypothesis, pywinrm, ...; see the file's header)."
