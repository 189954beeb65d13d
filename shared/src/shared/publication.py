"""Write-audit-publish: a new version is checked before it replaces what analysts and downstream read.

An asset that follows this pattern computes its candidate, runs its blocking checks on the candidate
(in the asset's own step, as ``check_specs``), and only hands the candidate to its IO manager, which
publishes it at ``part.{ext}``, when every blocking check passed. When one fails, the check results are
still recorded (visible in the UI), the candidate is kept beside the published object as
``candidate.{ext}`` for diagnosis, and the step fails with :class:`CandidateRejected`: the last good
version stays published, and downstream steps of the same run never start. Later runs of downstream
assets read the published object, which is always one that passed.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import dagster as dg
import polars as pl

from shared.storage import Storage
from shared.storage.layout import CANDIDATE_NAME, PARQUET, AssetLocation

__all__ = [
    "CANDIDATE_NAME",
    "CandidateRejected",
    "drop_candidate",
    "failed_blocking",
    "keep_candidate_file",
    "keep_candidate_table",
    "publish_if_passed",
    "published_table",
    "reject",
]


class CandidateRejected(dg.Failure):
    """A candidate failed a blocking check and was not published."""


def failed_blocking(results: Sequence[dg.AssetCheckResult], specs: Sequence[dg.AssetCheckSpec]) -> list[str]:
    """Names of the blocking checks among ``results`` that did not pass."""
    blocking = {spec.name for spec in specs if spec.blocking}
    return sorted(
        result.check_name for result in results if result.check_name in blocking and not result.passed
    )


def reject(asset: dg.AssetKey, failed: Sequence[str], candidate_uri: str | None) -> NoReturn:
    """Fail the step, naming the checks that failed and where the kept candidate lies."""
    kept = f"; the candidate is kept at {candidate_uri}" if candidate_uri else ""
    raise CandidateRejected(
        description=f"{asset.to_user_string()}: blocking checks failed ({', '.join(failed)}); the published "
        f"version is unchanged{kept}",
        metadata={"failed_checks": list(failed), "candidate_uri": candidate_uri or ""},
        allow_retries=False,  # the same candidate would fail the same checks: no step retry
    )


def publish_if_passed(
    asset: dg.AssetKey,
    results: Sequence[dg.AssetCheckResult],
    specs: Sequence[dg.AssetCheckSpec],
    output: dg.Output[Any],
    keep_candidate: Callable[[], str],
    storage: Storage,
    location: AssetLocation,
    ext: str,
) -> Iterator[Any]:
    """The pattern's steps, in the order that makes it hold, for an asset body to ``yield from``.

    The results come first so they are recorded either way; a failed blocking check keeps the candidate
    (``keep_candidate()`` stores it and returns its URI) and raises before ``output`` reaches the IO
    manager; once ``output`` is published, an older kept candidate no longer explains what is published
    and is dropped.
    """
    yield from results
    failed = failed_blocking(results, specs)
    if failed:
        reject(asset, failed, keep_candidate())
    yield output
    drop_candidate(storage, location, ext)


def publish_table_if_passed(
    asset: dg.AssetKey,
    results: Sequence[dg.AssetCheckResult],
    specs: Sequence[dg.AssetCheckSpec],
    table: pl.DataFrame,
    metadata: Mapping[str, Any],
    storage: Storage,
    location: AssetLocation,
) -> Iterator[Any]:
    """:func:`publish_if_passed` for a Parquet table, the common case: a rejected table is kept as
    ``candidate.parquet``."""
    yield from publish_if_passed(
        asset,
        results,
        specs,
        dg.Output(table, metadata=dict(metadata)),
        lambda: keep_candidate_table(storage, location, table),
        storage,
        location,
        PARQUET,
    )


def published_table(storage: Storage, location: AssetLocation) -> pl.DataFrame | None:
    """The asset partition's published Parquet table, or None before its first publication."""
    key = location.key(PARQUET)
    if not storage.exists(key):
        return None
    return pl.read_parquet(io.BytesIO(storage.get_bytes(key)))


def keep_candidate_table(storage: Storage, location: AssetLocation, table: pl.DataFrame) -> str:
    """Store a rejected table as ``candidate.parquet`` beside the published one; returns its URI."""
    buffer = io.BytesIO()
    table.write_parquet(buffer, compression="zstd")
    key = location.key(PARQUET, name=CANDIDATE_NAME)
    storage.put_bytes(buffer.getvalue(), key)
    return storage.uri(key)


def keep_candidate_file(storage: Storage, location: AssetLocation, path: Path, ext: str) -> str:
    """Store a rejected file as ``candidate.{ext}`` beside the published one; returns its URI."""
    key = location.key(ext, name=CANDIDATE_NAME)
    storage.put_file(path, key)
    return storage.uri(key)


def drop_candidate(storage: Storage, location: AssetLocation, ext: str) -> None:
    """Remove a kept candidate once a newer version passed: it no longer explains what is published."""
    storage.delete(location.key(ext, name=CANDIDATE_NAME))
