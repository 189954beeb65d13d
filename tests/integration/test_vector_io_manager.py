"""The vector IO manager: GeoParquet that GDAL reads, FlatGeobuf with a spatial index read from S3."""

import json
from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from dagster import AssetIn, asset, materialize

from shared.io_managers.base import UnsupportedAnnotationError
from shared.io_managers.vector import FLATGEOBUF, VectorIOManager
from shared.resources.storage import StorageResource
from shared.vectors.formats import FlatGeobufError
from shared.vectors.geoframe import GeoFrame, GeometryColumnError


def squares(count: int) -> GeoFrame:
    """A row of 100 m squares in EPSG:2180, one per id."""
    boxes = [shapely.box(560_000 + 100 * i, 360_000, 560_100 + 100 * i, 360_100) for i in range(count)]
    return GeoFrame.from_geometries(pl.DataFrame({"square_id": list(range(count))}), boxes, "EPSG:2180")


def test_layers_are_geoparquet_and_flatgeobuf_that_gdal_reads_through_vsis3(any_storage):
    got = {}

    @asset(key=["catchments", "squares"], metadata={FLATGEOBUF: True}, io_manager_key="vectors")
    def layer() -> GeoFrame:
        return squares(50)

    @asset(ins={"layer": AssetIn(key=layer.key)}, io_manager_key="vectors")
    def reader(layer: GeoFrame) -> None:
        got["layer"] = layer

    result = materialize([layer, reader], resources={"vectors": VectorIOManager(storage=any_storage)})
    assert result.success
    metadata = result.asset_materializations_for_node("catchments__squares")[0].metadata
    assert metadata["crs"].value == "EPSG:2180" and metadata["geometry_types"].value == ["Polygon"]
    assert metadata["dagster/row_count"].value == 50
    assert metadata["bounds"].value == [560_000.0, 360_000.0, 565_000.0, 360_100.0]
    loaded = got["layer"]
    assert loaded.crs == "EPSG:2180" and loaded.frame["square_id"].to_list() == list(range(50))
    assert shapely.equals(loaded.geometries(), squares(50).geometries()).all()

    storage = any_storage.get_storage()
    with storage.local_copy("catchments/squares/part.parquet") as path:
        geo = json.loads(pq.read_schema(path).metadata[b"geo"])
    assert geo["version"] == "1.1.0" and geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB" and column["geometry_types"] == ["Polygon"]
    assert column["crs"]["id"] == {"authority": "EPSG", "code": 2180}
    assert column["bbox"] == [560_000.0, 360_000.0, 565_000.0, 360_100.0]
    fgb = metadata["flatgeobuf_gdal_path"].value
    assert fgb == storage.gdal_path("catchments/squares/part.fgb")
    with pyogrio_env(storage.gdal_options()):
        info = pyogrio.read_info(fgb)
        _, window = pyogrio.read_arrow(fgb, bbox=(560_150, 360_010, 560_250, 360_090), read_geometry=False)
    assert info["features"] == 50 and info["crs"] == "EPSG:2180"
    assert info["capabilities"]["fast_spatial_filter"], "the FlatGeobuf carries a spatial index"
    assert sorted(window["square_id"].to_pylist()) == [1, 2]


@contextmanager
def pyogrio_env(options: dict[str, str]) -> Iterator[None]:
    """GDAL configuration for pyogrio's own GDAL (endpoint settings; credentials from the environment)."""
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(dict.fromkeys(options))


def test_a_frame_without_wkb_geometry_is_refused():
    with pytest.raises(GeometryColumnError, match="binary \\(WKB\\) column 'geometry'"):
        GeoFrame(pl.DataFrame({"geometry": ["POINT (1 2)"]}), "EPSG:2180")


def test_anything_but_a_geoframe_is_refused(local_storage):
    @asset(io_manager_key="vectors")
    def layer() -> pl.DataFrame:
        return pl.DataFrame({"a": [1]})

    with pytest.raises(UnsupportedAnnotationError, match="stores a GeoFrame, not DataFrame"):
        materialize([layer], resources={"vectors": VectorIOManager(storage=local_storage)})


def squares_asset(layer: GeoFrame):
    @asset(key=["catchments", "squares"], metadata={FLATGEOBUF: True}, io_manager_key="vectors")
    def squares_layer() -> GeoFrame:
        return layer

    return squares_layer


def with_an_empty_geometry() -> GeoFrame:
    boxes = [shapely.box(560_000, 360_000, 560_100, 360_100), shapely.Polygon(), shapely.box(0, 0, 1, 1)]
    return GeoFrame.from_geometries(pl.DataFrame({"square_id": [0, 1, 2]}), boxes, "EPSG:2180")


def with_a_duration_column() -> GeoFrame:
    """GeoParquet stores durations; GDAL has no FlatGeobuf field type for them."""
    return GeoFrame(squares(3).frame.with_columns(lag=pl.duration(hours=pl.col("square_id"))), "EPSG:2180")


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (with_an_empty_geometry, r"1 of 3 features have a null or empty geometry \(rows \[1\]\)"),
        (with_a_duration_column, r"GDAL's FlatGeobuf driver refused the layer: .*lag"),
    ],
)
def test_a_layer_the_flatgeobuf_cannot_hold_leaves_the_stored_pair_byte_identical(
    any_storage, broken, message
):
    resources = {"vectors": VectorIOManager(storage=any_storage)}
    assert materialize([squares_asset(squares(3))], resources=resources).success
    storage = any_storage.get_storage()
    before = {info.key: storage.get_bytes(info.key) for info in storage.list("catchments/squares/")}
    assert sorted(before) == ["catchments/squares/part.fgb", "catchments/squares/part.parquet"]

    with pytest.raises(
        FlatGeobufError, match=rf"catchments/squares: cannot build .*part\.fgb: {message}"
    ) as raised:
        materialize([squares_asset(broken())], resources=resources)

    assert str(raised.value).endswith("neither it nor the GeoParquet beside it was changed")
    after = {info.key: storage.get_bytes(info.key) for info in storage.list("catchments/squares/")}
    assert after == before, "no new object, no staging leftover, both stored files unchanged"


@pytest.mark.hostile
def test_a_layer_with_null_geometries_is_still_stored_as_geoparquet(local_storage):
    """GeoParquet allows null geometries; only the FlatGeobuf (spatial index) refuses them."""
    layer = GeoFrame.from_geometries(
        pl.DataFrame({"square_id": [0, 1]}), [shapely.box(0, 0, 1, 1), None], "EPSG:2180"
    )

    @asset(key=["catchments", "plain"], io_manager_key="vectors")
    def plain() -> GeoFrame:
        return layer

    result = materialize([plain], resources={"vectors": VectorIOManager(storage=local_storage)})
    metadata = result.asset_materializations_for_node("catchments__plain")[0].metadata
    assert metadata["geometry_types"].value == ["Polygon"] and metadata["dagster/row_count"].value == 2


def test_the_flatgeobuf_layer_is_named_after_the_asset_and_written_the_same_every_time(tmp_path):
    """GDAL names a layer after its file unless told: a temporary name would show in QGIS and make the
    bytes differ between two runs of the same input."""
    stored = []
    for run in ("first", "second"):
        storage = StorageResource(url=str(tmp_path / run))
        assert materialize(
            [squares_asset(squares(3))], resources={"vectors": VectorIOManager(storage=storage)}
        )
        stored.append(tmp_path / run / "catchments" / "squares" / "part.fgb")
    assert pyogrio.list_layers(stored[0])[0][0] == "squares"
    assert stored[0].read_bytes() == stored[1].read_bytes()
