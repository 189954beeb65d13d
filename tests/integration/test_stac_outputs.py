"""The STAC catalogue of the outputs: every stored COG/GeoParquet/FlatGeobuf reachable from the root,
no href to a missing object, valid against the STAC schemas offline, and no lost update when two
materialisations finish together."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import rasterio
import shapely
from dagster import AssetExecutionContext, StaticPartitionsDefinition, asset, materialize

from landing_zone.sources.stac import validate_catalog
from shared.assets.landing_zone import DTM_CONSOLIDATED, REGIONS
from shared.io_managers.parquet import ParquetIOManager
from shared.io_managers.raster import RasterIOManager
from shared.io_managers.vector import FLATGEOBUF, VectorIOManager
from shared.rasters.handles import CogFile
from shared.stac_outputs import (
    ITEMS_PREFIX,
    ROOT_KEY,
    audit_catalogue,
    catalogue_partition,
    item_key,
)
from shared.storage.layout import AssetLocation, partition_dimensions
from shared.storage.local import LocalStorage
from shared.vectors.geoframe import GeoFrame
from tests.satellite.conftest import REGION, store_dtm, write_dtm
from tests.satellite.test_assets import materialise
from tests.support.rasters import write_noise_cog

TILES = StaticPartitionsDefinition(["east", "west"])


def squares(count: int) -> GeoFrame:
    boxes = [shapely.box(560_000 + 100 * i, 360_000, 560_100 + 100 * i, 360_100) for i in range(count)]
    return GeoFrame.from_geometries(pl.DataFrame({"square_id": list(range(count))}), boxes, "EPSG:2180")


def resources(storage):
    return {
        "rasters": RasterIOManager(storage=storage),
        "vectors": VectorIOManager(storage=storage),
        "io_manager": ParquetIOManager(storage=storage),
    }


def outputs(tmp_path, barrier: threading.Barrier | None = None):
    """A partitioned raster, a vector layer with its FlatGeobuf and a plain table."""

    @asset(key=["elevation", "dtm", "consolidated"], partitions_def=TILES, io_manager_key="rasters")
    def dem(context: AssetExecutionContext) -> CogFile:
        cog = write_noise_cog(tmp_path / context.partition_key, size=256)
        if barrier:
            barrier.wait(timeout=30)  # both runs hand their output over at the same moment
        return CogFile(cog)

    @asset(key=["catchments", "squares"], metadata={FLATGEOBUF: True}, io_manager_key="vectors")
    def layer() -> GeoFrame:
        return squares(5)

    @asset(key=["hydro", "stations"])
    def table() -> pl.DataFrame:
        return pl.DataFrame({"station": ["a", "b"], "level_cm": [1.0, 2.0]})

    return dem, layer, table


def test_every_stored_output_is_reachable_valid_and_opens(any_storage, tmp_path):
    dem, layer, table = outputs(tmp_path)
    for partition in TILES.get_partition_keys():
        assert materialize([dem], partition_key=partition, resources=resources(any_storage)).success
    assert materialize([layer, table], resources=resources(any_storage)).success
    storage = any_storage.get_storage()
    rejected = AssetLocation(["hydro", "stations"]).key("parquet", name="candidate")
    storage.put_bytes(storage.get_bytes("hydro/stations/part.parquet"), rejected)

    audit = audit_catalogue(storage)
    assert audit.unreachable == () and audit.dangling == ()
    assert audit.catalogued == 5, "two COGs, two GeoParquet files and one FlatGeobuf"
    assert validate_catalog(storage.uri(ROOT_KEY)) == 1 + 3 + 4, "root, 3 collections, 4 items"

    item = json.loads(
        storage.get_bytes(
            item_key(AssetLocation(["elevation", "dtm", "consolidated"], {"partition": "east"}))
        )
    )
    cog = item["assets"]["part.tif"]
    assert cog["href"] == storage.uri("elevation/dtm/consolidated/partition=east/part.tif")
    assert cog["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
    assert cog["proj:code"] == "EPSG:2180" and cog["proj:shape"] == [256, 256]
    assert cog["bands"] == [{"data_type": "float32", "nodata": -9999.0}]
    west, south, east, north = item["bbox"]
    assert 14 < west < east < 25 and 49 < south < north < 55, "WGS84 degrees over Poland"
    gdal_path = cog["href"].replace("s3://", "/vsis3/", 1)  # what QGIS's STAC browser opens
    with rasterio.Env(**storage.gdal_options()), rasterio.open(gdal_path) as dataset:
        assert list(dataset.transform)[:6] == cog["proj:transform"]

    vector = json.loads(storage.get_bytes(item_key(AssetLocation(["catchments", "squares"]))))
    assert sorted(vector["assets"]) == ["part.fgb", "part.parquet"]
    assert vector["assets"]["part.fgb"]["type"] == "application/vnd.flatgeobuf"
    table_item = json.loads(storage.get_bytes(item_key(AssetLocation(["hydro", "stations"]))))
    assert table_item["geometry"] is None and list(table_item["assets"]) == ["part.parquet"]


def test_a_removed_partition_leaves_no_dangling_href(local_storage, tmp_path):
    dem, _, _ = outputs(tmp_path)
    for partition in TILES.get_partition_keys():
        assert materialize([dem], partition_key=partition, resources=resources(local_storage)).success
    storage = local_storage.get_storage()
    west = AssetLocation(["elevation", "dtm", "consolidated"], {"partition": "west"})
    storage.delete(west.key("tif"))
    assert audit_catalogue(storage).dangling == (storage.uri(west.key("tif")),)
    assert catalogue_partition(storage, west) is None
    assert audit_catalogue(storage).dangling == ()
    assert validate_catalog(storage.uri(ROOT_KEY)) == 1 + 1 + 1


def test_two_runs_finishing_together_both_stay_linked(any_storage, tmp_path):
    barrier = threading.Barrier(2)
    dem, _, _ = outputs(tmp_path, barrier)

    def run(partition: str) -> bool:
        return materialize([dem], partition_key=partition, resources=resources(any_storage)).success

    with ThreadPoolExecutor(2) as pool:
        assert all(pool.map(run, TILES.get_partition_keys()))
    audit = audit_catalogue(any_storage.get_storage())
    assert audit.catalogued == 2 and audit.unreachable == () and audit.dangling == ()


def test_many_writers_at_once_lose_no_link(any_storage, tmp_path):
    writers = 8
    storage = any_storage.get_storage()
    cog = write_noise_cog(tmp_path, size=64)
    locations = [AssetLocation(["features", "grids"], {"partition": f"p{index}"}) for index in range(writers)]
    for location in locations:
        storage.put_file(cog, location.key("tif"))
    start = threading.Barrier(writers)

    def write(location: AssetLocation) -> str | None:
        start.wait(timeout=30)
        return catalogue_partition(storage, location)

    with ThreadPoolExecutor(writers) as pool:
        assert all(pool.map(write, locations))
    collection = json.loads(storage.get_bytes("stac/collections/features.grids.json"))
    assert len([link for link in collection["links"] if link["rel"] == "item"]) == writers
    assert audit_catalogue(storage).unreachable == ()


class StaleListingStorage(LocalStorage):
    """Local storage whose first item listing in ``stale_thread`` is held back until ``release`` is set:
    that writer then links a list that misses the item another writer stored in the meantime."""

    def __init__(self, root, stale_thread: str, release: threading.Event) -> None:
        super().__init__(root)
        self.stale_thread, self.release, self.held = stale_thread, release, False

    def list(self, prefix=""):
        listing = list(super().list(prefix))
        stale = threading.current_thread().name == self.stale_thread
        if prefix.startswith(ITEMS_PREFIX) and stale and not self.held:
            self.held = True
            self.release.wait(timeout=30)
        yield from listing


def test_a_stale_writer_does_not_drop_the_item_of_a_writer_that_finished_first(tmp_path):
    release = threading.Event()
    storage = StaleListingStorage(tmp_path / "storage", "stale", release)
    cog = write_noise_cog(tmp_path, size=64)
    first, second = (AssetLocation(["features", "grids"], {"partition": name}) for name in ("a", "b"))
    for location in (first, second):
        storage.put_file(cog, location.key("tif"))
    stale = threading.Thread(target=catalogue_partition, args=(storage, first), name="stale")
    stale.start()
    while not storage.held:  # the stale writer has listed only its own item
        time.sleep(0.01)
    catalogue_partition(storage, second)  # stores its item, links both, verifies and returns
    release.set()  # now the stale writer writes its one-item list over the good one
    stale.join(timeout=30)
    collection = json.loads(storage.get_bytes("stac/collections/features.grids.json"))
    assert [link["href"] for link in collection["links"] if link["rel"] == "item"] == [
        "../items/features.grids/partition=a.json",
        "../items/features.grids/partition=b.json",
    ]


def test_the_satellite_month_is_catalogued_with_its_raw_scenes(catalogues, tmp_path, seaweedfs, s3_storage):
    """Real platform assets: the scenes (a manifest table beside content-addressed scene COGs) and NDVI."""
    store_dtm(s3_storage, write_dtm(tmp_path, catalogues.spec.bounds))
    assert materialise(s3_storage, catalogues.v1).success
    storage = s3_storage.get_storage()
    dtm = AssetLocation(DTM_CONSOLIDATED.path, partition_dimensions(REGIONS, REGION))
    audit = audit_catalogue(storage)
    assert audit.unreachable == (dtm.key("tif"),), "only the stand-in DTM, put in by hand"
    assert audit.dangling == () and audit.catalogued == 3 * 3 + 1 + 1, (
        "3 scenes x 3 band COGs, manifest, NDVI"
    )
    assert validate_catalog(storage.uri(ROOT_KEY)) == 1 + 2 + 2
