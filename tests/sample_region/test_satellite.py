"""Sentinel-2-like scenes (three acquisitions a month, SCL at 20 m) and their static STAC catalogue."""

import datetime as dt
import json
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
from pyproj import Transformer
from pystac.errors import STACValidationError

from landing_zone.sources import asset_href, list_items, validate_catalog
from platform_dev.sample_region.satellite import (
    COLLECTION_ID,
    MEDIA_TYPE,
    UTM_CRS,
    acquisitions,
    clear_sky,
    default_months,
    true_ndvi,
    withdrawn_months,
    write_satellite,
)
from platform_dev.sample_region.spec import CRS, RegionSpec
from platform_dev.sample_region.terrain import BUILT, CROPLAND, FOREST, GRASSLAND, WATER, land_cover
from platform_dev.seaweedfs import SeaweedFS
from tests.conftest import TEST_BUCKET
from tests.support.satellite_catalogues import Catalogues

KEPT = [4, 5, 6]  # SCL classes a composite keeps: vegetation, not vegetated, water
CLOUDS = [8, 9]


@dataclass(frozen=True)
class Build:
    """The folders of the two versions."""

    spec: RegionSpec
    v1: Path
    v2: Path


@pytest.fixture(scope="module")
def build(catalogues: Catalogues) -> Build:
    """The session's catalogues (version 2 written over a copy of version 1, as a provider republishes),
    by folder."""
    return Build(catalogues.spec, catalogues.v1.parent, catalogues.v2.parent)


def items_of(root: Path) -> list[pystac.Item]:
    return sorted(pystac.Catalog.from_file(str(root / "catalog.json")).get_items(recursive=True), key=_id)


def _id(item: pystac.Item) -> str:
    return item.id


@pytest.fixture(scope="module")
def items(build: Build) -> list[pystac.Item]:
    return items_of(build.v2)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def ids(months: list[dt.date]) -> list[str]:
    return [f"S2_pilica_{day:%Y%m%d}" for month in months for day in acquisitions(month)]


def test_version_2_withdraws_a_month_and_adds_two(build, items):
    v1, v2 = default_months(build.spec, 1), default_months(build.spec, 2)
    assert v1 == [dt.date(2023, month, 1) for month in range(7, 11)]
    assert withdrawn_months(build.spec) == [dt.date(2023, 8, 1)]
    assert v2 == [dt.date(2023, month, 1) for month in (7, 9, 10, 11, 12)]
    assert acquisitions(dt.date(2023, 7, 1)) == [dt.date(2023, 7, day) for day in (5, 15, 25)]
    with pytest.raises(ValueError, match="no acquisition"):
        clear_sky(build.spec, dt.date(2023, 7, 1), np.zeros(1), np.zeros(1))
    assert [item.id for item in items_of(build.v1)] == ids(v1)
    assert [item.id for item in items] == ids(v2)
    left = snapshot(build.v2)
    assert not [name for name in left if "202308" in name], "the withdrawn month's files are gone"
    assert not [name for name in left if "staging" in name or name.endswith(".tmp")]


def test_catalogue_pages_through_year_catalogues(build, items):
    root = pystac.Catalog.from_file(str(build.v2 / "catalog.json"))
    [collection] = root.get_children()
    assert isinstance(collection, pystac.Collection) and collection.id == COLLECTION_ID
    assert [child.id for child in collection.get_children()] == ["2023"]
    assert list(collection.get_items()) == [], "items hang below the year catalogues only"
    for item in items:
        assert item.collection_id == COLLECTION_ID
        assert item.get_parent().id == "2023"
        assert item.datetime == dt.datetime.strptime(item.id[-8:] + "10", "%Y%m%d%H").replace(tzinfo=dt.UTC)
    for path in build.v2.rglob("*.json"):
        links = json.loads(path.read_text())["links"]
        assert all(not link["href"].startswith(("/", "file:")) for link in links), path


def test_assets_are_cogs_on_the_grid_the_items_declare(build, items):
    region = Transformer.from_crs(CRS, UTM_CRS, always_xy=True).transform_bounds(*build.spec.bounds)
    for item in items:
        assert item.properties["proj:code"] == UTM_CRS
        grids = {}
        for name, asset in item.assets.items():
            assert asset.media_type == MEDIA_TYPE and asset.href == f"./{Path(asset.href).name}"
            with rasterio.open(asset.get_absolute_href()) as dataset:
                assert dataset.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
                assert dataset.overviews(1) or max(dataset.shape) <= 512, "overviews above one block"
                assert dataset.crs.to_epsg() == 32634 and dataset.nodata == 0
                assert asset.extra_fields["proj:shape"] == [dataset.height, dataset.width]
                assert asset.extra_fields["proj:transform"] == list(dataset.transform)[:6]
                grids[name] = (dataset.dtypes[0], dataset.res, dataset.transform, dataset.shape)
        assert grids["red"] == grids["nir"] and grids["red"][:2] == ("uint16", (10.0, 10.0))
        assert grids["scl"][:2] == ("uint8", (20.0, 20.0))
        (_, _, band, (rows, cols)), (_, _, scl, scl_shape) = grids["red"], grids["scl"]
        assert (scl.c, scl.f) == (band.c, band.f), "the SCL shares the bands' origin"
        assert scl_shape == (-(-rows // 2), -(-cols // 2))
        west, north = band.c, band.f
        assert west <= region[0] < west + 10 and north - 10 < region[3] <= north
        assert west + 10 * cols >= region[2] and north - 10 * rows <= region[1]


def read_acquisition(item: pystac.Item) -> dict[str, Any]:
    """Bands, the SCL repeated onto the 10 m grid, and pixel centres in the region CRS."""
    with rasterio.open(item.assets["red"].get_absolute_href()) as red:
        bands = {"red": red.read(1).astype(float)}
    with rasterio.open(item.assets["nir"].get_absolute_href()) as nir:
        bands["nir"] = nir.read(1).astype(float)
    with rasterio.open(item.assets["scl"].get_absolute_href()) as scl:
        rows, cols = bands["red"].shape
        bands["scl"] = np.repeat(np.repeat(scl.read(1), 2, axis=0), 2, axis=1)[:rows, :cols]
    grid = red.transform
    east, north = np.meshgrid(
        grid.c + (np.arange(cols) + 0.5) * grid.a, grid.f + (np.arange(rows) + 0.5) * grid.e
    )
    bands["x"], bands["y"] = Transformer.from_crs(UTM_CRS, CRS, always_xy=True).transform(east, north)
    return bands


def test_every_clouded_band_pixel_lies_in_a_cloudy_scl_pixel(build, items):
    """Where a cloud has any amount at all, the SCL flags the 20 m pixel; the swath edge is no data."""
    cloudy_fractions, edge_fractions = [], []
    for item in items:
        scene = read_acquisition(item)
        clear = clear_sky(build.spec, item.datetime.date(), scene["x"], scene["y"])
        inside = scene["red"] > 0
        assert np.array_equal(inside, scene["nir"] > 0), "both bands miss the same pixels"
        assert not np.isin(scene["scl"][~inside], KEPT).any(), "pixels outside the swath are never kept"
        clouded = ~clear & inside
        assert not np.isin(scene["scl"][clouded], KEPT).any(), item.id
        rows, cols = inside.shape
        whole = np.repeat(np.repeat(_pool_all(inside), 2, axis=0), 2, axis=1)[:rows, :cols]
        assert np.isin(scene["scl"][clouded & whole], CLOUDS).all(), item.id
        assert (
            scene["red"][clouded & (scene["scl"] == 9)] > scene["red"][clear & inside].mean()
        ).mean() > 0.9
        cloudy_fractions.append(clouded.mean())
        edge_fractions.append(1 - inside.mean())
    assert max(cloudy_fractions) > 0.2 and min(cloudy_fractions) < max(cloudy_fractions) / 2
    assert 0 < max(edge_fractions) < 0.5 and min(edge_fractions) == 0, (
        "a swath edge cuts some scenes, not all"
    )


def _pool_all(values: np.ndarray) -> np.ndarray:
    """True for each 2 x 2 cell all of whose (existing) pixels are True."""
    rows, cols = values.shape
    padded = np.pad(values, ((0, rows % 2), (0, cols % 2)), constant_values=True)
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).all(axis=(1, 3))


def test_true_ndvi_is_recovered_from_clear_pixels(build, items):
    """Per land cover class, the NDVI of kept pixels matches the truth within the generator's noise."""
    july = [item for item in items if item.datetime.month == 7]
    scenes = {item.id: read_acquisition(item) for item in july}
    clearest = max(july, key=lambda item: np.isin(scenes[item.id]["scl"], KEPT).mean())
    scene = scenes[clearest.id]
    kept = np.isin(scene["scl"], KEPT) & clear_sky(
        build.spec, clearest.datetime.date(), scene["x"], scene["y"]
    )
    ndvi = (scene["nir"] - scene["red"]) / (scene["nir"] + scene["red"])
    truth = true_ndvi(build.spec, dt.date(2023, 7, 1), scene["x"], scene["y"])
    cover = land_cover(build.spec, scene["x"], scene["y"])
    errors = ndvi[kept] - truth[kept]
    assert kept.mean() > 0.3 and np.sqrt(np.mean(errors**2)) < 0.05
    means = {}
    for cls in (WATER, CROPLAND, GRASSLAND, FOREST, BUILT):
        pixels = kept & (cover == cls)
        assert pixels.sum() > 20, cls
        assert abs(ndvi[pixels].mean() - truth[pixels].mean()) < 0.01, cls
        assert np.ptp(truth[pixels]) == 0, "one NDVI per class and month"
        means[cls] = truth[pixels].mean()
    assert means[WATER] < 0 < means[BUILT] < means[GRASSLAND] and means[FOREST] > 0.7
    december = true_ndvi(build.spec, dt.date(2023, 12, 1), scene["x"], scene["y"])
    assert december[cover == CROPLAND].mean() < means[CROPLAND] - 0.3, (
        "crops are green in July, bare in December"
    )


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"validation tried to look up {host}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_catalogues_validate_offline(build, no_network):
    """Catalogue, collection, year catalogue and items, with the bundled projection extension schema."""
    assert validate_catalog(str(build.v1 / "catalog.json")) == 3 + 12
    assert validate_catalog(str(build.v2 / "catalog.json")) == 3 + 15


@pytest.mark.parametrize(
    ("field", "value"), [("datetime", None), ("proj:code", 32634)], ids=["core", "projection"]
)
def test_the_validation_is_not_vacuous(build, tmp_path, no_network, field, value):
    broken_root = tmp_path / "broken"
    shutil.copytree(build.v1, broken_root, ignore=shutil.ignore_patterns("*.tif"))
    item_path = next(broken_root.rglob("S2_*.json"))
    broken = json.loads(item_path.read_text())
    broken["properties"][field] = value
    item_path.write_text(json.dumps(broken))
    with pytest.raises(STACValidationError, match=f"ID {item_path.stem}"):
        validate_catalog(str(broken_root / "catalog.json"))


def test_scenes_are_a_pure_function_of_the_acquisition(build, tmp_path):
    """A month written alone matches the same month written with others, in both versions."""
    september = tmp_path / "september"
    write_satellite(build.spec, september, [dt.date(2023, 9, 1)])
    alone, v1, v2 = snapshot(september), snapshot(build.v1), snapshot(build.v2)
    scene_files = [name for name in alone if "/S2_" in name]
    assert len(scene_files) == 3 * 4
    assert all(alone[name] == v1[name] == v2[name] for name in scene_files)
    shared = [name for name in v1 if "/S2_" in name and name in v2]
    assert len(shared) == 9 * 4 and all(v1[name] == v2[name] for name in shared)


def test_items_listed_from_s3(build, items, seaweedfs: SeaweedFS):
    """The catalogue read from S3-compatible storage pages through the year catalogues to every item."""
    prefix = f"satellite-{build.spec.seed}/v2"
    client = seaweedfs.client()
    for path in build.v2.rglob("*.json"):
        key = f"{prefix}/{path.relative_to(build.v2).as_posix()}"
        client.put_object(Bucket=TEST_BUCKET, Key=key, Body=path.read_bytes())
    url = f"s3://{TEST_BUCKET}/{prefix}/catalog.json"
    listed = list_items(url, COLLECTION_ID)
    assert [item.id for item in listed] == [item.id for item in items]
    first = listed[0]
    assert asset_href(first, "scl") == (
        f"s3://{TEST_BUCKET}/{prefix}/{COLLECTION_ID}/2023/{first.id}/{first.id}_SCL.tif"
    )
    assert validate_catalog(url) == 3 + 15
