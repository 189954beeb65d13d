"""Every table column is described, with units, and materialisations say where the data is and what it spans.

The declaration check runs over both loaded code locations, so a new table asset without column
descriptions fails here before anyone opens the catalogue. A real sync-and-polish of the meteo network then
shows the IO manager recording the described schema with the stored types, the time range, and the
polished series' per-station flag counts; the S3 case shows ``s3://`` URIs and ``/vsis3/`` paths.
"""

from __future__ import annotations

import datetime as dt
import importlib

import dagster as dg
import polars as pl
import pytest

from shared.assets.landing_zone import METEO_POLISHED
from shared.columns import COLUMN_SCHEMA, UndescribedColumnsError, described_columns
from shared.io_managers.parquet import ParquetIOManager
from shared.io_managers.vector import VectorIOManager
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource
from shared.vectors.geoframe import GeoFrame
from tests.stations.test_sync import METEO_RAW_OBSERVATIONS, OTHER_STATION, definitions, provider_copy, tick

TABLE_KINDS = {"parquet", "geoparquet"}
LOCATIONS = ("landing_zone.definitions", "discharge_model.definitions")


def table_assets(defs: dg.Definitions) -> dict[dg.AssetKey, dg.AssetSpec]:
    """Every executable asset stored as a table: a Parquet or vector IO manager and a table kind."""
    resources = defs.resources or {}
    tables = {}
    for assets_def in defs.resolve_asset_graph().assets_defs:
        if not assets_def.is_executable:
            continue
        for key in assets_def.keys:
            manager = resources.get(assets_def.get_io_manager_key_for_asset_key(key))
            spec = assets_def.specs_by_key[key]
            if isinstance(manager, ParquetIOManager | VectorIOManager) and spec.kinds & TABLE_KINDS:
                tables[key] = spec
    return tables


@pytest.mark.parametrize("module", LOCATIONS)
def test_every_table_asset_declares_every_column_with_a_description(module):
    defs = importlib.import_module(module).defs
    tables = table_assets(defs)
    assert tables, f"{module}: no table assets found"
    undeclared = sorted(
        key.to_user_string() for key, spec in tables.items() if COLUMN_SCHEMA not in spec.metadata
    )
    assert undeclared == []
    declared = [spec for spec in defs.resolve_all_asset_specs() if COLUMN_SCHEMA in spec.metadata]
    for spec in declared:
        columns = spec.metadata[COLUMN_SCHEMA].columns
        assert columns, spec.key
        blank = [column.name for column in columns if not (column.description or "").strip()]
        assert blank == [], f"{spec.key.to_user_string()}: {blank}"


def test_a_column_without_a_description_is_refused_at_declaration():
    with pytest.raises(UndescribedColumnsError, match=r"demo/table: columns \['flux'\]"):
        described_columns("demo/table", {"catchment_id": pl.String, "flux": pl.Float64})


def test_sync_and_polish_record_described_columns_time_range_and_flags(small_region, local_storage, tmp_path):
    provider = provider_copy(small_region, "meteo", 1, (OTHER_STATION,), (2022,), tmp_path / "provider")
    defs, instance = definitions("meteo", provider, local_storage), dg.DagsterInstance.ephemeral()
    tick(defs, instance, "meteo")
    polished = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[METEO_POLISHED]
    )
    assert polished.success
    store = local_storage.get_storage()
    for key in (METEO_RAW_OBSERVATIONS, METEO_POLISHED):
        metadata = latest_metadata(instance, key)
        columns = metadata[COLUMN_SCHEMA].schema.columns
        stored = pl.read_parquet_schema(metadata["uri"].value)
        assert [column.name for column in columns] == list(stored)
        assert [column.type for column in columns] == [str(dtype) for dtype in stored.values()]
        assert all(column.description for column in columns), key
        assert metadata["uri"].value.startswith(store.url)
        span = metadata["time_range"].value
        assert span["column"] == "time" and span["first"].startswith("2022-01-01")
        assert span["last"].startswith("2022-12-31")
    descriptions = {
        c.name: c.description for c in latest_metadata(instance, METEO_POLISHED)[COLUMN_SCHEMA].schema.columns
    }
    assert descriptions["flag"].startswith("ok, duplicate")
    raw = {
        c.name: c.description
        for c in latest_metadata(instance, METEO_RAW_OBSERVATIONS)[COLUMN_SCHEMA].schema.columns
    }
    assert raw["precipitation_mm"] == "Daily precipitation total (mm)"

    table = pl.read_parquet(latest_metadata(instance, METEO_POLISHED)["uri"].value)
    flags = latest_metadata(instance, METEO_POLISHED)["flags_per_station"].value
    recorded = {record.data["station"]: record.data for record in flags.records}
    expected = table.filter(pl.col("flag") != "ok").group_by("station", "flag").len()
    assert expected.height > 0
    for station, flag, count in expected.iter_rows():
        assert recorded[station][flag] == count
    assert sum(sum(v for k, v in row.items() if k != "station") for row in recorded.values()) == int(
        expected["len"].sum()
    )


def latest_metadata(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict:
    event = instance.get_latest_materialization_event(key)
    assert event is not None and event.asset_materialization is not None, key
    return dict(event.asset_materialization.metadata)


DAYS = pl.DataFrame({"date": [dt.date(2021, 3, 1), dt.date(2020, 1, 5)], "runoff_mm": [1.5, None]})


@dg.asset(
    key=["hydro", "runoff"],
    metadata=described_columns("hydro/runoff", DAYS.schema, {"runoff_mm": "Runoff (mm)"}),
)
def runoff() -> pl.DataFrame:
    return DAYS


@dg.asset(
    key=["catchments", "squares"],
    io_manager_key="vector_io_manager",
    metadata={"flatgeobuf": True}
    | described_columns(
        "catchments/squares", {"square_id": pl.Int64, "geometry": pl.Binary}, {"square_id": "Square number"}
    ),
)
def squares() -> GeoFrame:
    from shapely.geometry import box

    return GeoFrame.from_geometries(
        pl.DataFrame({"square_id": [1, 2]}), [box(0, 0, 10, 10), box(10, 0, 20, 10)], "EPSG:2180"
    )


def test_on_s3_metadata_holds_s3_uris_and_vsis3_paths_to_paste(s3_storage: StorageResource):
    result = dg.materialize([runoff, squares], resources=platform_resources(s3_storage))
    assert result.success
    store = s3_storage.get_storage()
    table = result.asset_materializations_for_node("hydro__runoff")[0].metadata
    assert table["uri"].value == store.uri("hydro/runoff/part.parquet")
    assert table["uri"].value.startswith("s3://")
    assert table["time_range"].value == {"column": "date", "first": "2020-01-05", "last": "2021-03-01"}
    described = {c.name: c.description for c in table[COLUMN_SCHEMA].schema.columns}
    assert described == {"date": "Day the row describes (UTC calendar day)", "runoff_mm": "Runoff (mm)"}
    layer = result.asset_materializations_for_node("catchments__squares")[0].metadata
    assert layer["uri"].value.startswith("s3://")
    assert layer["gdal_path"].value == "/vsis3/" + layer["uri"].value.removeprefix("s3://")
    assert layer["flatgeobuf_gdal_path"].value.startswith("/vsis3/") and layer[
        "flatgeobuf_gdal_path"
    ].value.endswith(".fgb")
    assert {c.name for c in layer[COLUMN_SCHEMA].schema.columns if c.description} == {"square_id", "geometry"}
    assert "undescribed_columns" not in table and "undescribed_columns" not in layer


def test_a_stored_column_the_declaration_misses_is_listed(local_storage: StorageResource):
    @dg.asset(key=["hydro", "drifted"], metadata=described_columns("hydro/drifted", {"date": pl.Date}))
    def drifted() -> pl.DataFrame:
        return DAYS

    result = dg.materialize([drifted], resources=platform_resources(local_storage))
    metadata = result.asset_materializations_for_node("hydro__drifted")[0].metadata
    assert metadata["undescribed_columns"].value == ["runoff_mm"]
    described = {c.name: c.description for c in metadata[COLUMN_SCHEMA].schema.columns}
    assert described == {"date": "Day the row describes (UTC calendar day)", "runoff_mm": None}
