"""Write-audit-publish of the polished station series against a hostile provider revision.

A good sync publishes the meteo series. Then the provider revises a station's yearly file with a broken
humidity sensor (150 % every day): the raw layer takes the revision, but the polished candidate has every
humidity value flagged, fails the blocking ``flagged_fraction`` check in the asset's own step and is kept
as ``candidate.parquet``, while the published ``part.parquet`` stays byte-identical. A fixed file
publishes again and drops the candidate.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from shared.assets.landing_zone import METEO_POLISHED
from shared.resources.storage import StorageResource
from tests.stations.test_sync import OTHER_STATION, definitions, failure_text, provider_copy, tick

PUBLISHED = "meteo/polished_timeseries/part.parquet"
CANDIDATE = "meteo/polished_timeseries/candidate.parquet"
HUMIDITY_FIELD = 5  # Kod stacji;Nazwa stacji;Data;Opad;Temperatura powietrza;Wilgotność względna;...


def polish_run(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Sync what the provider changed, then materialise the polished series; failure is an outcome."""
    tick(defs, instance, "meteo")
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[METEO_POLISHED], raise_on_error=False
    )


def with_humidity(zip_path: Path, value: str) -> None:
    """Rewrite a provider zip as the provider would after a humidity sensor reported ``value`` daily."""
    with zipfile.ZipFile(zip_path) as archive:
        (member,) = archive.infolist()
        header, units, *rows = archive.read(member).decode("cp1250").splitlines()
    broken = [
        ";".join([*fields[:HUMIDITY_FIELD], value, *fields[HUMIDITY_FIELD + 1 :]])
        for fields in (row.split(";") for row in rows)
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member.filename, "\n".join([header, units, *broken, ""]).encode("cp1250"))
    zip_path.write_bytes(buffer.getvalue())


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


@pytest.mark.hostile
def test_a_candidate_failing_a_blocking_check_never_replaces_the_published_series(
    small_region, any_storage: StorageResource, tmp_path
):
    provider = provider_copy(small_region, "meteo", 1, (OTHER_STATION,), (2022,), tmp_path / "provider")
    defs, instance = definitions("meteo", provider, any_storage), dg.DagsterInstance.ephemeral()
    store = any_storage.get_storage()

    good = polish_run(defs, instance)
    assert good.success and len(evaluations(good)) == 5
    assert all(e.passed for e in evaluations(good).values())
    published = store.get_bytes(PUBLISHED)
    first = instance.get_latest_materialization_event(METEO_POLISHED)
    assert not store.exists(CANDIDATE)

    source = provider / "2022" / f"{OTHER_STATION}_2022.zip"
    original = source.read_bytes()
    with_humidity(source, "150")
    rejected = polish_run(defs, instance)
    assert not rejected.success
    checks = evaluations(rejected)
    assert [name for name, e in checks.items() if not e.passed] == ["flagged_fraction"]
    offending = checks["flagged_fraction"].metadata["offending_values"].value
    assert offending == [{"station": OTHER_STATION, "variable": "relative_humidity_pct", "flagged": 1.0}]
    assert "blocking checks failed (flagged_fraction); the published version is unchanged" in (
        failure_text(rejected)
    )
    assert store.get_bytes(PUBLISHED) == published  # the last good version stays published
    assert instance.get_latest_materialization_event(METEO_POLISHED) == first  # downstream sees no new one
    candidate = pl.read_parquet(io.BytesIO(store.get_bytes(CANDIDATE)))
    humidity = candidate.filter(pl.col("variable") == "relative_humidity_pct")
    assert humidity.height and (humidity["raw_value"] == 150.0).all() and (humidity["flag"] != "ok").all()

    source.write_bytes(original)  # the provider fixes the file: published again, the candidate dropped
    fixed = polish_run(defs, instance)
    assert fixed.success and all(e.passed for e in evaluations(fixed).values())
    assert not store.exists(CANDIDATE)
    assert pl.read_parquet(io.BytesIO(store.get_bytes(PUBLISHED))).equals(
        pl.read_parquet(io.BytesIO(published))
    )
