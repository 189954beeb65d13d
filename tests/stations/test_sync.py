"""The station sync on copies of the sample region's provider directories: sensor, raw layer, plan.

Each test points the sources at a small copy (a few stations and years), so that the runs it carries out
stay few; the sensor is evaluated for real and its requests carried out as ``make demo`` does.
"""

import hashlib
import io
import shutil
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl

from landing_zone.defs.stations.definitions import StationNetwork
from landing_zone.defs.stations.keys import station_key
from landing_zone.defs.stations.provider_formats import Network
from landing_zone.resources.sources import SourcesResource
from platform_dev.demo import apply_sensor_tick, materialize_selection
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource
from shared.storage.layout import PARQUET, AssetLocation

REVISED_STATION, OTHER_STATION = "250190391", "250190392"
METEO_SYNC_PLAN = station_key("meteo", "sync_plan")
METEO_STATIONS = station_key("meteo", "stations")
METEO_RAW_OBSERVATIONS = station_key("meteo", "raw_observations")
HYDRO_RAW_OBSERVATIONS = station_key("hydro", "raw_observations")


def provider_copy(
    region: Path, network: str, version: int, codes: Iterable[str], years: Iterable[int], out: Path
) -> Path:
    """A provider directory holding the station list and the named stations' yearly files of a version."""
    published = region / "stations" / network / f"v{version}"
    out.mkdir(parents=True)
    shutil.copy2(published / "stations.csv", out / "stations.csv")
    for year in years:
        (out / str(year)).mkdir()
        for code in codes:
            shutil.copy2(published / str(year) / f"{code}_{year}.zip", out / str(year) / f"{code}_{year}.zip")
    return out


def definitions(network: Network, provider: Path, storage: StorageResource) -> dg.Definitions:
    urls = {"meteo_url": "", "hydro_url": ""} | {f"{network}_url": provider.as_uri()}
    sources = SourcesResource(
        elevation_index_url="", rivers_url="", forecasts_url="", satellite_catalog_url="", **urls
    )
    return dg.Definitions.merge(
        dg.build_defs_for_component(StationNetwork(network=network)),
        dg.Definitions(resources={**platform_resources(storage), "sources": sources}),
    )


def evaluate(defs: dg.Definitions, instance: dg.DagsterInstance, network: str) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, resources=dict(defs.resources)) as context:
        return defs.resolve_sensor_def(f"{network}_sync_sensor")(context)


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, network: str) -> list[dg.ExecuteInProcessResult]:
    return apply_sensor_tick(defs, instance, f"{network}_sync_sensor", None, defs.resources)[1]


def requested(result: dg.SensorResult) -> dict[str | None, str | None]:
    """``{partition key (None for the station list): run key}`` of every run requested."""
    return {request.partition_key: request.run_key for request in result.run_requests}


def partition_changes(result: dg.SensorResult) -> tuple[set[str], set[str]]:
    added: set[str] = set()
    deleted: set[str] = set()
    for request in result.dynamic_partitions_requests or []:
        (added if isinstance(request, dg.AddDynamicPartitionsRequest) else deleted).update(
            request.partition_keys
        )
    return added, deleted


def stored_table(
    storage: StorageResource, key: dg.AssetKey, partition: dict[str, str] | None
) -> pl.DataFrame:
    store = storage.get_storage()
    with store.local_copy(AssetLocation(key.path, partition).key(PARQUET)) as path:
        return pl.read_parquet(path)


def stems(codes: Iterable[str], years: Iterable[int]) -> set[str]:
    return {f"{code}_{year}" for code in codes for year in years}


def test_second_sync_plans_nothing_and_v2_runs_only_new_and_revised_files(
    small_region, manifest, local_storage, tmp_path
):
    codes = (REVISED_STATION, OTHER_STATION)
    instance = dg.DagsterInstance.ephemeral()
    v1 = definitions(
        "meteo", provider_copy(small_region, "meteo", 1, codes, (2021, 2022), tmp_path / "v1"), local_storage
    )

    first = evaluate(v1, instance, "meteo")
    assert partition_changes(first) == (stems(codes, (2021, 2022)), set())
    assert set(requested(first)) == stems(codes, (2021, 2022)) | {None}
    assert len(tick(v1, instance, "meteo")) == 5
    quiet = evaluate(v1, instance, "meteo")
    assert quiet.run_requests == [] and partition_changes(quiet) == (set(), set())

    listed = stored_table(local_storage, METEO_STATIONS, None)
    assert "Końskie" in listed["name"].to_list() and listed.height == len(
        manifest["stations"]["meteo_stations"]
    )

    v2 = definitions(
        "meteo",
        provider_copy(small_region, "meteo", 2, codes, (2021, 2022, 2023), tmp_path / "v2"),
        local_storage,
    )
    materialize_selection(v2, instance, [METEO_SYNC_PLAN], None)
    plan = stored_table(local_storage, METEO_SYNC_PLAN, None)
    (revised,) = [Path(name).stem for name in manifest["stations"]["revised_in_v2"]]
    assert dict(zip(plan["source"], plan["action"], strict=True)) == (
        dict.fromkeys(stems(codes, (2021, 2022)), "unchanged")
        | dict.fromkeys(stems(codes, (2023,)), "new")
        | {revised: "changed"}
    )
    changed = evaluate(v2, instance, "meteo")
    assert partition_changes(changed) == (stems(codes, (2023,)), set())
    assert set(requested(changed)) == stems(codes, (2023,)) | {revised}
    assert requested(changed)[revised] != requested(first)[revised]  # the run key follows the file

    before = stored_table(local_storage, METEO_RAW_OBSERVATIONS, {"meteo_sources": revised})
    assert len(tick(v2, instance, "meteo")) == 3
    after = stored_table(local_storage, METEO_RAW_OBSERVATIONS, {"meteo_sources": revised})
    assert before["air_temperature_c"].max() > 45 > after["air_temperature_c"].max()  # v1 unit error fixed
    assert evaluate(v2, instance, "meteo").run_requests == []

    # The raw layer is append-only: both delivered versions of the revised file are kept by content.
    store = local_storage.get_storage()
    prefix = "/".join([*METEO_RAW_OBSERVATIONS.path, f"meteo_sources={revised}", ""])
    stored = {info.key.rsplit("/", 1)[1]: store.get_bytes(info.key) for info in store.list(prefix)}
    delivered = [
        (tmp_path / version / revised.rsplit("_", 1)[1] / f"{revised}.zip").read_bytes()
        for version in ("v1", "v2")
    ]
    for content in delivered:
        assert stored[f"{revised}.{hashlib.sha256(content).hexdigest()[:16]}.zip"] == content


def rename_column(zip_path: Path, old: str, new: str) -> None:
    """Rewrite a provider zip as the provider would after renaming one column."""
    with zipfile.ZipFile(zip_path) as archive:
        (member,) = archive.infolist()
        text = archive.read(member).decode("cp1250")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member.filename, text.replace(old, new, 1).encode("cp1250"))
    zip_path.write_bytes(buffer.getvalue())


def snapshot(storage: StorageResource, prefix: str) -> dict[str, bytes]:
    store = storage.get_storage()
    return {info.key: store.get_bytes(info.key) for info in store.list(prefix)}


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    return error.to_string() if error else ""


def test_renamed_column_fails_its_partition_and_changes_nothing_stored(small_region, local_storage, tmp_path):
    provider = provider_copy(small_region, "meteo", 1, (OTHER_STATION,), (2022,), tmp_path / "provider")
    defs = definitions("meteo", provider, local_storage)
    instance = dg.DagsterInstance.ephemeral()
    tick(defs, instance, "meteo")
    source = f"{OTHER_STATION}_2022"
    stored = snapshot(local_storage, "meteo/raw_observations/")
    delivered = hashlib.sha256((provider / "2022" / f"{source}.zip").read_bytes()).hexdigest()[:16]
    assert set(stored) == {
        f"meteo/raw_observations/meteo_sources={source}/{name}"
        for name in (f"{source}.zip", f"{source}.{delivered}.zip", "source.json", "part.parquet")
    }
    assert (
        stored[f"meteo/raw_observations/meteo_sources={source}/{source}.zip"]
        == (provider / "2022" / f"{source}.zip").read_bytes()
    )

    rename_column(provider / "2022" / f"{source}.zip", "Temperatura powietrza", "Temperatura")
    revised = evaluate(defs, instance, "meteo")
    assert set(requested(revised)) == {source}
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        partition_key=source,
        asset_selection=[METEO_RAW_OBSERVATIONS],
        raise_on_error=False,
    )
    assert not result.success
    assert (
        f"meteo {source}: column 'Temperatura powietrza' renamed or missing; unexpected column 'Temperatura'"
        in failure_text(result)
    )
    assert snapshot(local_storage, "meteo/raw_observations/") == stored
    assert requested(evaluate(defs, instance, "meteo")) == requested(revised)  # still due, same run key

    (provider / "2022" / f"{source}.zip").unlink()
    gone = evaluate(defs, instance, "meteo")
    assert gone.run_requests == [] and partition_changes(gone) == (set(), {source})


def test_hydro_partition_on_s3_keeps_the_zip_and_stores_utc_times(small_region, s3_storage, tmp_path):
    code = "150190012"
    provider = provider_copy(small_region, "hydro", 1, (code,), (2021,), tmp_path / "provider")
    defs = definitions("hydro", provider, s3_storage)
    instance = dg.DagsterInstance.ephemeral()
    tick(defs, instance, "hydro")
    assert evaluate(defs, instance, "hydro").run_requests == []

    source = f"{code}_2021"
    partition = {"hydro_sources": source}
    store = s3_storage.get_storage()
    zip_key = AssetLocation(HYDRO_RAW_OBSERVATIONS.path, partition).key("zip", name=source)
    assert store.get_bytes(zip_key) == (provider / "2021" / f"{source}.zip").read_bytes()
    table = stored_table(s3_storage, HYDRO_RAW_OBSERVATIONS, partition)
    assert table.columns == ["station", "time", "water_level_cm", "discharge_m3s", "source", "line"]
    assert set(table["source"]) == {source} and set(table["station"]) == {code}
    january = table.filter(pl.col("time").dt.month() == 1)["time"]
    july = table.filter(pl.col("time").dt.month() == 7)["time"]
    assert set(january.dt.hour()) == {5} and set(july.dt.hour()) == {4}
    assert table["time"].min() >= datetime(2021, 1, 1, 5, tzinfo=UTC)

    event = instance.get_latest_materialization_event(HYDRO_RAW_OBSERVATIONS)
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["rows"].value == table.height and metadata["stations"].value == 1
    assert metadata["source_sha256"].value == hashlib.sha256(store.get_bytes(zip_key)).hexdigest()
