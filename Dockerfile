# syntax=docker/dockerfile:1.7
# One image per code location, built from the same uv.lock:
#   docker build --target landing-zone    -t registry.example.org/water-platform/landing-zone:TAG .
#   docker build --target discharge-model -t registry.example.org/water-platform/discharge-model:TAG .
# Each image holds its own member, `shared` and their locked dependencies only, runs as a non-root user
# and starts the gRPC code server that helm/values.yaml points the webserver and daemon at (port 3030).
# No secrets at build or run time: storage and database credentials come from the pod (IAM role, secrets).

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.8

FROM ${UV_IMAGE} AS uv

# ---- builder: resolve each member's locked environment into /app/.venv ---------------------------------
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependency layers first (cached until uv.lock or a pyproject changes), then the sources.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY landing_zone/pyproject.toml landing_zone/pyproject.toml
COPY discharge_model/pyproject.toml discharge_model/pyproject.toml
# devtools/ (platform-dev: sample region, demo, SeaweedFS) is a workspace member in no image: its
# pyproject only, so that `uv sync --locked` sees the whole workspace; .dockerignore keeps its sources out.
COPY devtools/pyproject.toml devtools/pyproject.toml

FROM builder AS build-landing-zone
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --package landing-zone --no-install-workspace
COPY shared/src shared/src
COPY landing_zone/src landing_zone/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --package landing-zone --no-editable

FROM builder AS build-discharge-model
# torch as locked: the CUDA build for the GPU node pool, with its nvidia-* and triton wheels (several GB).
# Local machines put the CPU wheel in its place (Makefile, README "PyTorch"); the image never does.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --package discharge-model --no-install-workspace
COPY shared/src shared/src
COPY discharge_model/src discharge_model/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --package discharge-model --no-editable

# ---- runtime: slim Python, the environment only, a fixed non-root user ---------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --gid 10001 dagster \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/dagster dagster
# PLATFORM_ENV and PLATFORM_STORAGE_URL come from the deployment (helm/values.yaml), not the image.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home
WORKDIR /home/dagster
EXPOSE 3030

FROM runtime AS landing-zone
# root-owned and read-only to the runtime user: the code cannot be rewritten by the process running it
COPY --from=build-landing-zone /app/.venv /app/.venv
USER 10001:10001
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030", "-m", "landing_zone.definitions"]

FROM runtime AS discharge-model
COPY --from=build-discharge-model /app/.venv /app/.venv
USER 10001:10001
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030", "-m", "discharge_model.definitions"]
