"""Monthly Sentinel-2-like COGs and their static STAC catalogue, validated offline."""

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from pyproj import Transformer
from pystac.errors import STACValidationError

from landing_zone.sources.stac import validate_catalog
from platform_dev.sample_region.satellite import (
    COLLECTION_ID,
    MEDIA_TYPE,
    default_months,
    write_satellite,
)
from platform_dev.sample_region.spec import CRS, RegionSpec
from platform_dev.sample_region.terrain import CROPLAND, FOREST, WATER, land_cover

SEED = 7
CLOUDY = 4000  # no clear surface is this bright in either band


@dataclass(frozen=True)
class Build:
    spec: RegionSpec
    out: Path
    catalog: Path
    v1_files: dict[str, bytes]


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """Version 1, then version 2 written into the same folder, as the platform will see them arrive."""
    spec = RegionSpec.for_size("small", SEED)
    out = tmp_path_factory.mktemp("satellite")
    write_satellite(spec, out, default_months(spec, 1))
    v1_files = snapshot(out)
    return Build(spec, out, write_satellite(spec, out, default_months(spec, 2)), v1_files)


@pytest.fixture(scope="module")
def items(build: Build) -> list[pystac.Item]:
    return list(pystac.Catalog.from_file(str(build.catalog)).get_items(recursive=True))


def band_paths(items: list[pystac.Item]) -> Iterator[tuple[pystac.Item, str, Path]]:
    for item in items:
        for name, asset in item.assets.items():
            yield item, name, Path(asset.get_absolute_href())


def test_default_months_add_the_newest_two_in_version_2(build):
    v1, v2 = default_months(build.spec, 1), default_months(build.spec, 2)
    assert v2 == [dt.date(2023, month, 1) for month in range(7, 13)]
    assert v1 == v2[:4]


def test_version_2_adds_items_and_keeps_version_1_byte_identical(build, items):
    v1_items = sorted(name for name in build.v1_files if name.endswith(".json") and "/S2_" in name)
    assert len(v1_items) == 4
    assert len(items) == 6
    assert sorted(item.id for item in items) == [f"S2_pilica_2023{month:02d}" for month in range(7, 13)]
    now = snapshot(build.out)
    changed = sorted(name for name, content in build.v1_files.items() if now[name] != content)
    assert changed == [f"{COLLECTION_ID}/collection.json"], "only the collection's links and extent change"
    assert not [name for name in now if "staging" in name or name.endswith(".tmp")]


def test_every_band_is_a_cog_in_utm(build, items):
    region = Transformer.from_crs(CRS, "EPSG:32634", always_xy=True).transform_bounds(*build.spec.bounds)
    for _, _, path in band_paths(items):
        with rasterio.open(path) as dataset:
            assert dataset.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert dataset.overviews(1)
            assert dataset.crs.to_epsg() == 32634
            assert dataset.nodata == 0 and dataset.dtypes[0] == "uint16"
            assert dataset.res == (10.0, 10.0)
            assert all(value % 10 == 0 for value in dataset.bounds)
            left, bottom, right, top = dataset.bounds
        assert left <= region[0] and bottom <= region[1] and right >= region[2] and top >= region[3]
        assert right - region[2] < 10 and region[0] - left < 10


def test_scenes_have_clouds_swath_edges_and_land_cover_signatures(build, items):
    clouded, edged, cropland_nir = [], [], {}
    for item in items:
        red, nir, cover = read_scene(build.spec, item)
        cloud = (red > CLOUDY) & (nir > CLOUDY)
        clouded.append(cloud.mean())
        edged.append(((red == 0) & (nir == 0)).mean())
        assert np.array_equal(red == 0, nir == 0), "both bands miss the same pixels"
        clear = (red > 0) & ~cloud & (red < 2000)
        forest, water = nir[clear & (cover == FOREST)], nir[clear & (cover == WATER)]
        assert forest.size > 100 and water.size > 10
        assert forest.mean() > 5 * water.mean()
        cropland_nir[item.datetime.month] = nir[clear & (cover == CROPLAND)].mean()
    assert max(clouded) > 0.05 and min(clouded) < max(clouded)
    assert 0 < max(edged) < 0.5 and min(edged) == 0, "a swath edge cuts some scenes, not all"
    assert cropland_nir[7] > 1.3 * cropland_nir[12], "crops are green in July, bare in December"


def read_scene(spec: RegionSpec, item: pystac.Item) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with (
        rasterio.open(item.assets["red"].get_absolute_href()) as red,
        rasterio.open(item.assets["nir"].get_absolute_href()) as nir,
    ):
        rows, cols = np.indices(red.shape)
        x, y = rasterio.transform.xy(red.transform, rows.ravel(), cols.ravel())
        x, y = Transformer.from_crs("EPSG:32634", CRS, always_xy=True).transform(x, y)
        return red.read(1), nir.read(1), land_cover(spec, np.reshape(x, red.shape), np.reshape(y, red.shape))


def test_items_describe_the_scenes(build, items):
    region = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform_bounds(*build.spec.bounds)
    for item, name, path in band_paths(items):
        asset = item.assets[name]
        assert asset.media_type == MEDIA_TYPE and asset.roles == ["data"]
        assert path.is_file() and path.parent == Path(item.get_self_href()).parent
        raw = json.loads(Path(item.get_self_href()).read_text())
        assert raw["assets"][name]["href"] == f"./{path.name}"
        assert item.datetime == dt.datetime(item.datetime.year, item.datetime.month, 15, 10, tzinfo=dt.UTC)
        assert item.collection_id == COLLECTION_ID and item.stac_extensions == []
        west, south, east, north = item.bbox
        assert west <= region[0] and south <= region[1] and east >= region[2] and north >= region[3]
    root = json.loads(build.catalog.read_text())
    assert all(not link["href"].startswith(("/", "file:")) for link in root["links"])


def test_catalogue_validates_against_the_bundled_stac_schemas(build):
    """Every catalogue, collection and item validates offline (pystac's bundled schemas, jsonschema)."""
    assert validate_catalog(str(build.catalog)) == 1 + 1 + 6


def test_the_validation_is_not_vacuous(build, tmp_path):
    broken_root = tmp_path / "broken"
    shutil.copytree(build.out, broken_root)
    item_path = next(broken_root.rglob("S2_*.json"))
    broken = json.loads(item_path.read_text())
    del broken["properties"]["datetime"]
    item_path.write_text(json.dumps(broken))
    with pytest.raises(STACValidationError):
        validate_catalog(str(broken_root / "catalog.json"))


def test_two_builds_are_byte_identical(build, tmp_path):
    again = tmp_path / "again"
    write_satellite(build.spec, again, default_months(build.spec, 2))
    assert snapshot(again) == snapshot(build.out)
