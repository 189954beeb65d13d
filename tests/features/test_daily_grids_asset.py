"""``meteo/daily_grids`` materialised for one month of the small sample region, its month partitions
registered by the sensor from the stored polished series."""

import dagster as dg
import pytest
import rasterio

from landing_zone.defs.features.assets import DAILY_GRID_PARTITIONS, STATION_LIST, daily_grids
from landing_zone.defs.features.gridding import VARIABLES
from landing_zone.defs.features.keys import METEO_DAILY_GRIDS
from landing_zone.defs.features.sensors import meteo_months_sensor
from shared.assets.landing_zone import DTM_CONSOLIDATED, METEO_POLISHED, REGIONS
from shared.partitions import apply_partition_requests
from shared.rasters.cog import describe_raster
from shared.resources.platform import RASTER_IO_MANAGER, platform_resources
from shared.resources.storage import StorageResource
from shared.storage.layout import COG, PARQUET, AssetLocation, partition_dimensions
from tests.features.conftest import MONTH

REGION = "pilica"
PARTITION = dg.MultiPartitionKey({"month": MONTH, "region": REGION})


def store_inputs(storage: StorageResource, sample_meteo, small_region) -> None:
    """The polished series, station list and consolidated DTM where their assets store them."""
    store = storage.get_storage()
    for key, table in ((METEO_POLISHED, sample_meteo.polished), (STATION_LIST, sample_meteo.station_list)):
        path = small_region.parent / f"{key.path[-1]}.parquet"
        table.write_parquet(path)
        store.put_file(path, AssetLocation.for_partition(key).key(PARQUET))
    dtm = AssetLocation(DTM_CONSOLIDATED.path, partition_dimensions(REGIONS, REGION)).key(COG)
    store.put_file(small_region / "truth" / "dtm.tif", dtm)


@pytest.fixture(scope="module")
def materialised(sample_meteo, small_region, tmp_path_factory):
    storage = StorageResource(url=str(tmp_path_factory.mktemp("features") / "storage"))
    store_inputs(storage, sample_meteo, small_region)
    instance = dg.DagsterInstance.ephemeral()
    evaluations = [
        meteo_months_sensor(dg.build_sensor_context(instance=instance, resources={"storage": storage}))
        for _ in range(2)
    ]
    apply_partition_requests(instance, evaluations[0].dynamic_partitions_requests or [])
    again = meteo_months_sensor(dg.build_sensor_context(instance=instance, resources={"storage": storage}))
    upstream = [
        dg.AssetSpec(METEO_POLISHED),
        dg.AssetSpec(STATION_LIST),
        dg.AssetSpec(DTM_CONSOLIDATED, partitions_def=REGIONS).with_io_manager_key(RASTER_IO_MANAGER),
    ]
    result = dg.materialize(
        [*upstream, daily_grids],
        instance=instance,
        resources=platform_resources(storage),
        partition_key=str(PARTITION),
        selection=[METEO_DAILY_GRIDS],
    )
    return storage, instance, evaluations, again, result


def test_the_sensor_registers_every_month_of_the_series_once(materialised):
    _, instance, evaluations, again, _ = materialised
    months = instance.get_dynamic_partitions("meteo_months")
    assert months[0] == "2018-01" and months[-1] == "2023-12" and len(months) == 6 * 12
    assert MONTH in months
    assert evaluations[0].dynamic_partitions_requests == evaluations[1].dynamic_partitions_requests
    assert not again.dynamic_partitions_requests


def test_one_cog_per_variable_with_a_dated_band_per_day(materialised):
    storage, _, _, _, result = materialised
    assert result.success
    location = AssetLocation.for_partition(METEO_DAILY_GRIDS, DAILY_GRID_PARTITIONS, str(PARTITION))
    store = storage.get_storage()
    for variable in VARIABLES:
        path = store.gdal_path(location.key(COG, name=variable))
        description = describe_raster(path)
        assert description.is_cog and description.crs == "EPSG:2180" and description.band_count == 31
        assert description.nodata == -9999.0 and description.resolution == (250.0, 250.0)
        with rasterio.open(path) as dataset:
            assert dataset.descriptions[0] == f"{MONTH}-01" and dataset.descriptions[-1] == f"{MONTH}-31"
            assert dataset.tags(1)["TOO_FEW_STATIONS"] == "NO" and int(dataset.tags(1)["VALID_STATIONS"]) >= 2
            assert dataset.tags()["VARIABLE"] == variable


def test_the_checks_pass_with_their_values_in_metadata(materialised):
    *_, result = materialised
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        "every_day_a_band",
        "precipitation_non_negative",
        "temperature_within_wmo_bounds",
        "too_few_stations_share",
    }
    assert all(e.passed for e in evaluations.values())
    assert evaluations["every_day_a_band"].metadata["checked_rows"].value == 31 * len(VARIABLES)
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == METEO_DAILY_GRIDS]
    metadata = event.materialization.metadata
    assert metadata["crs"].value == "EPSG:2180"
    assert metadata["too_few_stations_days"].value == dict.fromkeys(sorted(VARIABLES), 0)
