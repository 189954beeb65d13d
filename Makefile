# Every target bootstraps what it needs: uv (installed with pip when missing), then the locked
# environment in .venv. Needs only Python 3.11 and the package registries.

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster
export UV_PYTHON_DOWNLOADS := never
# uv ignores pip's configuration: reuse pip's local wheel folder (the CPU build of torch) when set.
ifdef PIP_FIND_LINKS
export UV_FIND_LINKS ?= $(PIP_FIND_LINKS)
endif

.PHONY: help env demo test dev bench lint typecheck clean

help:
	@echo "make demo | make test | make dev | make bench | make lint | make typecheck"

env: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock shared/pyproject.toml landing_zone/pyproject.toml discharge_model/pyproject.toml \
		devtools/pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --locked --python 3.11
	@touch $@

$(DAGSTER_HOME)/dagster.yaml:
	@mkdir -p $(DAGSTER_HOME)
	@printf 'telemetry:\n  enabled: false\n' > $@

SAMPLE_REGION ?= $(CURDIR)/.sources/sample-region
export PLATFORM_SAMPLE_REGION := $(SAMPLE_REGION)

$(SAMPLE_REGION)/truth/manifest.json: | env
	$(BIN)/python -m platform_dev.sample_region build --out $(SAMPLE_REGION) --size small --seed 1

demo: env $(DAGSTER_HOME)/dagster.yaml $(SAMPLE_REGION)/truth/manifest.json
	$(BIN)/python -m platform_dev.demo
	$(BIN)/dagster asset materialize -m discharge_model.definitions --select 'key:"discharge_model/*"' --partition pilica
	@$(BIN)/python -m platform_dev.listing

test: env
	$(BIN)/pytest -n 2 --durations=10

dev: env $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1

bench: env
	$(UV) sync --locked --python 3.11 --group bench
	@for script in benchmarks/[!_]*.py; do \
		name=$$(basename $$script .py); \
		[ "$$name" = harness ] && continue; \
		$(BIN)/python -m benchmarks.$$name || exit 1; \
	done

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: env
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .dagster .pytest_cache .ruff_cache .mypy_cache
