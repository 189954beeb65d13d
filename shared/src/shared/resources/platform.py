"""The resource set of a code location, chosen by one variable: ``PLATFORM_ENV`` (local | production).

local (default): storage under ``PLATFORM_STORAGE_URL`` or ``./.data``; no server needed.
production: ``PLATFORM_STORAGE_URL`` must be set (an ``s3://`` URL) and is read through ``EnvVar`` so the
Dagster UI shows where the value comes from; S3 endpoint, region and credentials come from the
standard AWS variables or the pod's IAM role.
"""

import os
from pathlib import Path
from typing import Any

from dagster import Backoff, EnvVar, ExecutorDefinition, Jitter, RetryPolicy

from shared.io_managers.parquet import ParquetIOManager
from shared.io_managers.raster import RasterIOManager
from shared.io_managers.vector import VectorIOManager
from shared.resources.duckdb_checks import DuckDBChecksResource
from shared.resources.storage import StorageResource

ENVIRONMENT_VARIABLE = "PLATFORM_ENV"
STORAGE_URL_VARIABLE = "PLATFORM_STORAGE_URL"
DEFAULT_LOCAL_ROOT = ".data"

STORAGE = "storage"
PARQUET_IO_MANAGER = "parquet_io_manager"
RASTER_IO_MANAGER = "raster_io_manager"
VECTOR_IO_MANAGER = "vector_io_manager"
DUCKDB = "duckdb"

TRANSIENT_STEP_RETRY = RetryPolicy(
    max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)
"""Retry policy for asset steps whose failure may be transient (object storage, remote sources).

The storage API already retries each request and body read a few times within seconds
(:class:`shared.storage.StorageUnavailableError` means those were spent); this rides out longer outages:
the step runs again after about 30 s, then about 60 s (each +- jitter so that the steps of a backfill do not
return in lockstep), at most 3 runs in all. Only for idempotent steps (every platform write is an atomic
overwrite). Dagster retries any exception but a ``Failure(allow_retries=False)``: a rejected candidate
(:class:`shared.publication.CandidateRejected`) is not retried, but other deterministic failures (bad
input) run three times, so attach it to steps that read storage, not to those that validate sources.
"""


def platform_environment() -> str:
    """``local`` or ``production``; anything else is a configuration error named here."""
    environment = os.environ.get(ENVIRONMENT_VARIABLE, "local").strip().lower()
    if environment not in {"local", "production"}:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={environment!r}: expected 'local' or 'production'")
    return environment


def storage_resource() -> StorageResource:
    """The storage root for the current environment."""
    if platform_environment() == "production":
        if not os.environ.get(STORAGE_URL_VARIABLE, "").startswith("s3://"):
            raise ValueError(f"production needs {STORAGE_URL_VARIABLE}=s3://bucket/prefix")
        return StorageResource(url=EnvVar(STORAGE_URL_VARIABLE))
    local_root = os.environ.get(STORAGE_URL_VARIABLE) or str(Path.cwd() / DEFAULT_LOCAL_ROOT)
    return StorageResource(url=local_root)


def platform_resources(storage: StorageResource | None = None) -> dict[str, Any]:
    """Every resource the code locations use, all sharing one storage root.

    The default ``io_manager`` is the Parquet one, so tables need no ``io_manager_key``; rasters name
    ``raster_io_manager``, vector layers ``vector_io_manager``.
    """
    storage = storage or storage_resource()
    parquet = ParquetIOManager(storage=storage)
    return {
        STORAGE: storage,
        "io_manager": parquet,
        PARQUET_IO_MANAGER: parquet,
        RASTER_IO_MANAGER: RasterIOManager(storage=storage),
        VECTOR_IO_MANAGER: VectorIOManager(storage=storage),
        DUCKDB: DuckDBChecksResource(storage=storage),
    }


def platform_executor() -> ExecutorDefinition | None:
    """How a run executes its steps: in production ``k8s_job_executor``, so every asset step is its own
    Kubernetes Job sized and placed by the asset's ``dagster-k8s/config`` op tag; locally Dagster's
    default (``None``: steps in subprocesses of the run)."""
    if platform_environment() != "production":
        return None
    from dagster_k8s import k8s_job_executor

    return k8s_job_executor
