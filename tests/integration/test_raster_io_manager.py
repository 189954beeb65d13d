"""The raster IO manager: stores finished COGs, records their metadata, hands out GDAL paths."""

import gc
from pathlib import Path

import numpy as np
import pytest
import rasterio
from dagster import AssetIn, AssetKey, AssetSpec, asset, materialize
from rasterio.windows import Window

from shared.io_managers.base import UnsupportedAnnotationError
from shared.io_managers.raster import NotACogError, RasterIOManager
from shared.rasters.cog import describe_raster
from shared.rasters.handles import CogFile, StoredRaster, scratch_dir
from shared.resources.storage import StorageResource
from tests.support.rasters import write_noise_cog, write_plain_gtiff
from tests.support.tcp_proxy import tcp_proxy


def resources(storage):
    return {"io_manager": RasterIOManager(storage=storage)}


def test_cog_is_stored_with_metadata_and_loaded_as_gdal_path(any_storage, tmp_path):
    cog = write_noise_cog(tmp_path / "work", size=1024)
    expected = describe_raster(cog)
    with rasterio.open(cog) as source:
        expected_window = source.read(1, window=Window(100, 200, 50, 50))
    got = {}

    @asset(key=["elevation", "dtm", "consolidated"])
    def dem() -> CogFile:
        return CogFile(cog)

    @asset(ins={"dem": AssetIn(key=dem.key)})
    def reader(dem: StoredRaster) -> None:
        got["stored"] = dem
        with dem.open() as dataset:
            got["window"] = dataset.read(1, window=Window(100, 200, 50, 50))

    @asset(ins={"dem": AssetIn(key=dem.key)})
    def path_reader(dem: str) -> None:
        got["path"] = dem

    result = materialize([dem, reader, path_reader], resources=resources(any_storage))
    assert result.success
    assert not cog.exists(), "CogFile is removed after it is stored"
    metadata = result.asset_materializations_for_node("elevation__dtm__consolidated")[0].metadata
    assert metadata["crs"].value == "EPSG:2180"
    assert metadata["size"].value == "1024x1024x1"
    assert metadata["dtype"].value == "float32"
    assert metadata["resolution"].value == [2.0, 2.0]
    assert metadata["bounds"].value == list(expected.bounds)
    assert metadata["overview_levels"].value == list(expected.overview_levels) == [2]
    assert metadata["uri"].value.endswith("elevation/dtm/consolidated/part.tif")
    storage = any_storage.get_storage()
    stored_bytes = storage.get_bytes("elevation/dtm/consolidated/part.tif")
    assert not got["path"].startswith("/vsi"), "inputs are staged locally through the storage API"
    assert Path(got["path"]).read_bytes() == stored_bytes
    assert got["stored"].uri == storage.uri("elevation/dtm/consolidated/part.tif")
    np.testing.assert_array_equal(got["window"], expected_window)
    staged = Path(got.pop("stored").gdal_path)
    gc.collect()
    if any_storage.url.startswith("s3://"):
        assert not staged.exists(), "the staged copy goes with its StoredRaster"
    else:
        assert staged.read_bytes() == stored_bytes, "local storage hands out the stored file itself"


def test_scratch_folder_is_removed_after_the_cog_is_stored(local_storage):
    kept = {}

    @asset
    def mosaic() -> CogFile:
        folder = scratch_dir("test-mosaic-")
        (folder / "mosaic.vrt").write_text("<VRTDataset/>")
        kept["folder"] = folder
        return CogFile(write_noise_cog(folder, size=256))

    assert materialize([mosaic], resources=resources(local_storage)).success
    assert not kept["folder"].exists()
    assert local_storage.get_storage().exists("mosaic/part.tif")


def test_window_read_through_vsis3_fetches_a_small_fraction(seaweedfs, s3_url, tmp_path):
    """With staging off, GDAL reads one 256 x 256 window through /vsis3/; a counting proxy shows the bytes
    that travelled."""
    cog = write_noise_cog(tmp_path / "work", size=2048)
    file_size = cog.stat().st_size

    @asset(key=["big", "dem"])
    def big() -> CogFile:
        return CogFile(cog)

    assert materialize([big], resources=resources(StorageResource(url=s3_url))).success

    with tcp_proxy(seaweedfs.endpoint_url) as proxy:
        through_proxy = StorageResource(url=s3_url, endpoint_url=proxy.endpoint_url)
        ranged = {"io_manager": RasterIOManager(storage=through_proxy, stage_inputs=False)}
        got = {}

        @asset(ins={"dem": AssetIn(key=big.key)})
        def window_reader(dem: StoredRaster) -> None:
            assert dem.gdal_path.startswith("/vsis3/")
            with dem.open() as dataset:
                got["window"] = dataset.read(1, window=Window(1024, 1024, 256, 256))

        assert materialize(
            [AssetSpec(big.key), window_reader],
            resources=ranged,
            selection=[window_reader.key],
        ).success
        fetched = proxy.bytes_to_client

    assert got["window"].shape == (256, 256)
    assert np.isfinite(got["window"]).all()
    print(f"fetched {fetched} of {file_size} bytes")
    assert 0 < fetched < file_size / 10, f"fetched {fetched} of {file_size} bytes"


def test_plain_gtiff_is_refused_and_nothing_is_stored(local_storage, tmp_path):
    plain = write_plain_gtiff(tmp_path)

    @asset
    def not_a_cog() -> CogFile:
        return CogFile(plain)

    with pytest.raises(NotACogError, match="not COG; write it with"):
        materialize([not_a_cog], resources=resources(local_storage))
    assert list(local_storage.get_storage().list()) == []


def test_cog_without_crs_is_refused(local_storage, tmp_path):
    cog = write_noise_cog(tmp_path, size=256, crs=None)

    @asset
    def unplaced() -> CogFile:
        return CogFile(cog)

    with pytest.raises(NotACogError, match="has no CRS"):
        materialize([unplaced], resources=resources(local_storage))


def test_unreadable_file_is_refused(local_storage, tmp_path):
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a tiff at all")

    @asset
    def junk_asset() -> CogFile:
        return CogFile(junk)

    with pytest.raises(NotACogError, match="not a readable raster"):
        materialize([junk_asset], resources=resources(local_storage))


def test_loading_pixels_is_not_offered(local_storage, tmp_path):
    cog = write_noise_cog(tmp_path, size=256)

    @asset
    def small() -> CogFile:
        return CogFile(cog)

    @asset
    def wants_array(small: np.ndarray) -> None: ...

    with pytest.raises(UnsupportedAnnotationError, match="RasterIOManager loads StoredRaster, str or dict"):
        materialize([small, wants_array], resources=resources(local_storage))


def test_missing_raster_names_the_uri(local_storage):
    @asset(ins={"absent": AssetIn(key=AssetKey(["absent", "dem"]))})
    def reader(absent: StoredRaster) -> None: ...

    with pytest.raises(FileNotFoundError, match=r"absent/dem/part\.tif"):
        materialize(
            [AssetSpec(["absent", "dem"]), reader], resources=resources(local_storage), selection=[reader.key]
        )
