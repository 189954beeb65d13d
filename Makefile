# Every target bootstraps what it needs: uv (installed with pip when missing), then the locked
# environment in .venv. Needs only Python 3.11 (python3, which also reads uv.lock) and the package registries.
# make test also needs Debian's python3-qgis (the qgis target installs it when run as root).

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster
export UV_PYTHON_DOWNLOADS := never
# uv.lock holds torch's CUDA build from the registry. Where pip's wheel folder holds the CPU wheel of the
# locked torch (devtools/local_torch.py finds it), the sync skips torch and the CUDA-only packages and that
# wheel is installed instead: no multi-GB download. Elsewhere the locked build. uv never sees a local folder
# (a lock resolved with one records its path). README, "PyTorch: the CUDA build in the lock, ...".
unexport UV_FIND_LINKS
LOCAL_TORCH := $(PYTHON) devtools/local_torch.py
TORCH_CPU_WHEEL := $(shell $(LOCAL_TORCH) wheel)
SYNC := $(UV) sync --locked --python 3.11
ifneq ($(TORCH_CPU_WHEEL),)
# --inexact: keep the CPU torch this sync did not install (an exact sync would uninstall it each time)
SYNC += --inexact $(shell $(LOCAL_TORCH) skip-args)
endif

.PHONY: help env qgis demo test dev bench lint typecheck clean

help:
	@echo "make demo | make test | make dev | make bench | make lint | make typecheck"

# Runs every time (a few seconds when nothing changed), so it also repairs an environment that a plain
# `uv sync` or `uv run` switched to the CUDA build.
env:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	$(SYNC)
ifneq ($(TORCH_CPU_WHEEL),)
	@leftovers="$$($(LOCAL_TORCH) leftovers $(VENV))"; \
		if [ -n "$$leftovers" ]; then $(UV) pip uninstall --python $(BIN)/python $$leftovers; fi
	$(UV) pip install --python $(BIN)/python --no-deps $(TORCH_CPU_WHEEL)
endif

$(DAGSTER_HOME)/dagster.yaml:
	@mkdir -p $(DAGSTER_HOME)
	@printf 'telemetry:\n  enabled: false\n' > $@

SAMPLE_REGION ?= $(CURDIR)/.sources/sample-region
export PLATFORM_SAMPLE_REGION := $(SAMPLE_REGION)

# rebuilt when the generator changes, so a demo never runs on a region an older generator wrote
$(SAMPLE_REGION)/truth/manifest.json: $(wildcard devtools/src/platform_dev/sample_region/*.py) | env
	$(BIN)/python -m platform_dev.sample_region build --out $(SAMPLE_REGION) --size small --seed 1

demo: env $(DAGSTER_HOME)/dagster.yaml $(SAMPLE_REGION)/truth/manifest.json
	$(BIN)/python -m platform_dev.demo
	$(BIN)/dagster asset materialize -m discharge_model.definitions --partition pilica \
		--select 'key:"discharge_model/*" and not key:"discharge_model/discharge_forecast" and not key:"discharge_model/forecast_verification"'
	$(BIN)/python -m platform_dev.forecast_cycles
	@$(BIN)/python -m platform_dev.listing

# Debian's QGIS for the QGIS client test (tests/integration/test_qgis_client.py), which runs it under the
# system Python. Installed here when root with apt (CI, a fresh machine: about a minute); otherwise the
# target fails and says how to install it, so the test is never silently skipped.
QGIS_PYTHON := /usr/bin/python3
qgis:
	@$(QGIS_PYTHON) -c "import qgis.core" 2>/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's python3-qgis for the QGIS client test"; \
		log=$$(mktemp); \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends python3-qgis; } >$$log 2>&1 || { tail -20 $$log; rm -f $$log; exit 1; }; \
		rm -f $$log; \
		$(QGIS_PYTHON) -c "import qgis.core"; \
	else \
		echo "make test needs Debian's QGIS under $(QGIS_PYTHON) for its QGIS client test:" >&2; \
		echo "    sudo apt-get install --no-install-recommends python3-qgis" >&2; \
		exit 1; \
	fi

test: env qgis
	$(BIN)/pytest -n 2 --durations=10

dev: env $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1

bench: env
	$(SYNC) --group bench
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
