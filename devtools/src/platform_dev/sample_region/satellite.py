"""Monthly Sentinel-2-like red and near-infrared scenes of the sample region, with a static STAC catalogue.

Reflectance follows the land cover of :mod:`terrain` (water dark in the NIR, forest bright, cropland
greening up in early summer), so an NDVI computed downstream recovers the land cover; clouds and a swath
edge without data make the scenes as awkward as real ones. Each band is written block by block into a
tiled GTiff and then copied into a COG, so the bench region never has a whole band in memory.

Scenes are a pure function of the region and the month: a later version of the catalogue adds months
without rewriting the existing ones, and their files stay byte-identical.

rasterio and pystac are imported inside the functions: code-location servers import this module and must
stay light. pyproj is imported here on purpose: the ecCodes wheels preload their own PROJ into the global
symbol scope, and a pyproj loaded after that cannot find its database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import Transformer

from platform_dev.sample_region.spec import CRS, RegionSpec
from platform_dev.sample_region.terrain import BUILT, CROPLAND, FOREST, GRASSLAND, WATER, land_cover

UTM_CRS = "EPSG:32634"
PIXEL_M = 10.0
SCALE = 10_000
NODATA = 0
BLOCK = 512
COLLECTION_ID = "sentinel-2-l2a-sample"
MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
BANDS = {"red": "B04", "nir": "B08"}
RECORD_MONTHS = 6
NEW_MONTHS = 2
MAX_CLOUD_FRACTION = 0.6
CLOUD_REFLECTANCE = {"red": 0.55, "nir": 0.60}
CLOUD_WAVELENGTHS_M = (2_000.0, 8_000.0)
CLOUD_WAVES = 6
SWATH_EDGE_PROBABILITY = 0.5


@dataclass(frozen=True)
class SceneGrid:
    """The 10 m UTM grid that covers the region; every monthly scene shares it."""

    west: float
    north: float
    width: int
    height: int

    @property
    def transform(self) -> Any:
        from rasterio.transform import from_origin

        return from_origin(self.west, self.north, PIXEL_M, PIXEL_M)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.west, self.north - self.height * PIXEL_M, self.west + self.width * PIXEL_M, self.north)

    def windows(self) -> Iterator[tuple[int, int, int, int]]:
        """``(row_off, col_off, rows, cols)`` of the blocks, aligned with the GTiff tiles."""
        for row_off in range(0, self.height, BLOCK):
            for col_off in range(0, self.width, BLOCK):
                yield row_off, col_off, min(BLOCK, self.height - row_off), min(BLOCK, self.width - col_off)

    def axes(self, row_off: int, col_off: int, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
        """Pixel centre eastings of the block's columns and northings of its rows."""
        x = self.west + (col_off + np.arange(cols) + 0.5) * PIXEL_M
        y = self.north - (row_off + np.arange(rows) + 0.5) * PIXEL_M
        return x, y


@dataclass(frozen=True)
class SceneConditions:
    """What changes from month to month: vegetation, clouds, and the swath edge."""

    month: dt.date
    crop_greenness: float
    leaf_greenness: float
    cloud_wavevectors: np.ndarray
    cloud_phases: np.ndarray
    cloud_threshold: float
    swath_edge: tuple[float, float] | None
    edge_corner: tuple[int, int]


def default_months(spec: RegionSpec, version: int) -> list[dt.date]:
    """The record's last six months; version 1 is published before the final two exist."""
    if version not in (1, 2):
        raise ValueError(f"catalogue versions are 1 and 2, got {version}")
    last = spec.end.year * 12 + spec.end.month - 1
    months = [dt.date(index // 12, index % 12 + 1, 1) for index in range(last - RECORD_MONTHS + 1, last + 1)]
    return months[:-NEW_MONTHS] if version == 1 else months


def write_satellite(spec: RegionSpec, out_dir: Path, months: Sequence[dt.date]) -> Path:
    """Write the scenes that are missing and the catalogue of ``months``; returns ``catalog.json``.

    ``months`` is the whole list the catalogue should hold (as :func:`default_months` gives it), not
    only the new ones: scenes already on disk are kept as they are.
    """
    if not months:
        raise ValueError("a catalogue needs at least one month")
    grid = scene_grid(spec)
    firsts = sorted({month.replace(day=1) for month in months})
    pending = [
        month
        for month in firsts
        if not all(path.exists() for path in _band_paths(spec, out_dir, month).values())
    ]
    _write_scenes(spec, grid, out_dir, pending)
    return _write_catalog(spec, grid, out_dir, firsts)


def scene_grid(spec: RegionSpec) -> SceneGrid:
    """The region's bounds in UTM, snapped outwards to whole pixels."""
    to_utm = Transformer.from_crs(CRS, UTM_CRS, always_xy=True)
    west, south, east, north = to_utm.transform_bounds(
        spec.west, spec.south, spec.east, spec.north, densify_pts=21
    )
    left, top = np.floor(west / PIXEL_M) * PIXEL_M, np.ceil(north / PIXEL_M) * PIXEL_M
    width = int(np.ceil((east - left) / PIXEL_M))
    height = int(np.ceil((top - south) / PIXEL_M))
    return SceneGrid(west=float(left), north=float(top), width=width, height=height)


def item_id(spec: RegionSpec, month: dt.date) -> str:
    return f"S2_{spec.name}_{month:%Y%m}"


def _band_paths(spec: RegionSpec, out_dir: Path, month: dt.date) -> dict[str, Path]:
    """Where the COGs lie: beside the item's JSON, in the folder pystac gives the item."""
    name = item_id(spec, month)
    return {asset: out_dir / COLLECTION_ID / name / f"{name}_{band}.tif" for asset, band in BANDS.items()}


def _write_scenes(spec: RegionSpec, grid: SceneGrid, out_dir: Path, months: Sequence[dt.date]) -> None:
    """All pending months in one pass over the blocks, so the land cover is computed once per block."""
    import rasterio

    from shared.rasters.cog import tiled_gtiff_profile

    if not months:
        return
    conditions = [_conditions(spec, grid, month) for month in months]
    staging = {
        (month, asset): path.with_suffix(".staging.tif")
        for month in months
        for asset, path in _band_paths(spec, out_dir, month).items()
    }
    profile = tiled_gtiff_profile(grid.width, grid.height, "uint16", UTM_CRS, grid.transform, NODATA)
    with ExitStack() as stack:
        sinks = {}
        for key, path in staging.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            sinks[key] = stack.enter_context(rasterio.open(path, "w", **profile))
        to_region = Transformer.from_crs(UTM_CRS, CRS, always_xy=True)
        for window in grid.windows():
            cover = land_cover(spec, *to_region.transform(*np.meshgrid(*grid.axes(*window))))
            for scene in conditions:
                for asset, values in _block_bands(spec, grid, scene, cover, window).items():
                    sinks[(scene.month, asset)].write(values, 1, window=_rasterio_window(window))
    for (month, asset), path in staging.items():
        _publish_cog(path, _band_paths(spec, out_dir, month)[asset])


def _publish_cog(staging: Path, final: Path) -> None:
    """Copy into a COG under a temporary name and rename it, so an interrupted run never leaves a partial
    file that a later run would take for a finished scene."""
    from shared.rasters.cog import copy_to_cog

    partial = final.with_suffix(".cog.tmp")
    copy_to_cog(staging, partial)
    partial.replace(final)
    staging.unlink()


def _rasterio_window(window: tuple[int, int, int, int]) -> Any:
    from rasterio.windows import Window

    row_off, col_off, rows, cols = window
    return Window(col_off, row_off, cols, rows)


def _conditions(spec: RegionSpec, grid: SceneGrid, month: dt.date) -> SceneConditions:
    """Draw a month's clouds and swath edge; the cloud threshold comes from a coarse look at the whole
    scene so that every block cuts the same smooth field at the same level."""
    rng = np.random.default_rng([spec.seed, 13, month.year, month.month])
    day_of_year = (month.replace(day=15) - dt.date(month.year, 1, 1)).days
    lengths = rng.uniform(*CLOUD_WAVELENGTHS_M, size=CLOUD_WAVES)
    angles = rng.uniform(0, 2 * np.pi, size=CLOUD_WAVES)
    wavevectors = 2 * np.pi / lengths[:, None] * np.column_stack([np.cos(angles), np.sin(angles)])
    phases = rng.uniform(0, 2 * np.pi, size=CLOUD_WAVES)
    cloud_fraction = rng.uniform(0, MAX_CLOUD_FRACTION)
    west, south, east, north = grid.bounds
    coarse = _cloud_field(wavevectors, phases, np.linspace(west, east, 96), np.linspace(south, north, 96))
    legs = rng.uniform(0.2, 0.6, size=2)
    corner_rng = np.random.default_rng([spec.seed, 14])
    return SceneConditions(
        month=month,
        crop_greenness=float(np.exp(-(((day_of_year - 170) / 45) ** 2))),
        leaf_greenness=float(0.5 + 0.5 * np.cos(2 * np.pi * (day_of_year - 196) / 365.25)),
        cloud_wavevectors=wavevectors,
        cloud_phases=phases,
        cloud_threshold=float(np.quantile(coarse, 1 - cloud_fraction)),
        swath_edge=(float(legs[0]), float(legs[1])) if rng.uniform() < SWATH_EDGE_PROBABILITY else None,
        edge_corner=(int(corner_rng.integers(2)), int(corner_rng.integers(2))),
    )


def _cloud_field(wavevectors: np.ndarray, phases: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A smooth field of unit variance on the grid of ``y`` rows and ``x`` columns, whose upper tail forms
    cloud blobs kilometres wide: a sum of plane waves, each split into outer products of 1-D terms
    (cos(a + b) = cos a cos b - sin a sin b), which is far cheaper than a cosine per pixel."""
    field = np.zeros((len(y), len(x)))
    for (kx, ky), phase in zip(wavevectors, phases, strict=True):
        along_x, along_y = kx * x, ky * y + phase
        field += np.outer(np.cos(along_y), np.cos(along_x)) - np.outer(np.sin(along_y), np.sin(along_x))
    return field * np.sqrt(2 / len(phases))


def _block_bands(
    spec: RegionSpec,
    grid: SceneGrid,
    scene: SceneConditions,
    cover: np.ndarray,
    window: tuple[int, int, int, int],
) -> dict[str, np.ndarray]:
    """Scaled uint16 reflectance of one block: surface, noise, clouds blended over it, the swath edge."""
    row_off, col_off, rows, cols = window
    rng = np.random.default_rng([spec.seed, 15, scene.month.year, scene.month.month, row_off, col_off])
    field = _cloud_field(scene.cloud_wavevectors, scene.cloud_phases, *grid.axes(*window))
    cloud = _smoothstep((field - scene.cloud_threshold) / 0.4)
    outside = _outside_swath(grid, scene, row_off, col_off, rows, cols)
    bands = {}
    for asset, surface in _surface_reflectance(scene, cover).items():
        gain, offset = rng.standard_normal((2, *cover.shape))
        noisy = surface * (1 + 0.05 * gain) + 0.003 * offset
        blended = noisy * (1 - cloud) + CLOUD_REFLECTANCE[asset] * cloud
        scaled = np.clip(np.round(blended * SCALE), 1, SCALE).astype(np.uint16)
        scaled[outside] = NODATA
        bands[asset] = scaled
    return bands


def _surface_reflectance(scene: SceneConditions, cover: np.ndarray) -> dict[str, np.ndarray]:
    """Reflectance (0-1) of each land cover class in the scene's month."""
    crop, leaf = scene.crop_greenness, scene.leaf_greenness
    red = {
        WATER: 0.035,
        CROPLAND: 0.12 - 0.08 * crop,
        GRASSLAND: 0.08 - 0.03 * leaf,
        FOREST: 0.04 - 0.01 * leaf,
        BUILT: 0.13,
    }
    nir = {
        WATER: 0.02,
        CROPLAND: 0.20 + 0.25 * crop,
        GRASSLAND: 0.22 + 0.10 * leaf,
        FOREST: 0.24 + 0.10 * leaf,
        BUILT: 0.17,
    }
    return {"red": _lookup(red, cover), "nir": _lookup(nir, cover)}


def _lookup(table: dict[int, float], cover: np.ndarray) -> np.ndarray:
    values = np.zeros(max(table) + 1)
    values[list(table)] = list(table.values())
    return values[cover]


def _outside_swath(
    grid: SceneGrid, scene: SceneConditions, row_off: int, col_off: int, rows: int, cols: int
) -> np.ndarray:
    """The triangle cut off one corner where the scene lies at the edge of the satellite's swath."""
    if scene.swath_edge is None:
        return np.zeros((rows, cols), dtype=bool)
    across = (col_off + np.arange(cols) + 0.5) / grid.width
    down = (row_off + np.arange(rows) + 0.5) / grid.height
    corner_col, corner_row = scene.edge_corner
    from_col = np.abs(across - corner_col) / scene.swath_edge[0]
    from_row = np.abs(down - corner_row) / scene.swath_edge[1]
    return (from_row[:, None] + from_col[None, :]) < 1.0


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _write_catalog(spec: RegionSpec, grid: SceneGrid, out_dir: Path, months: Sequence[dt.date]) -> Path:
    """A self-contained static catalogue: catalog -> collection -> one item per month, relative links."""
    import pystac

    catalog = pystac.Catalog(
        id=f"{spec.name}-satellite",
        description=f"Sentinel-2-like monthly red and near-infrared scenes of the {spec.name} sample region.",
    )
    footprint = _footprint(grid)
    items = [_item(spec, footprint, month) for month in months]
    collection = pystac.Collection(
        id=COLLECTION_ID,
        description="Synthetic Sentinel-2 L2A surface reflectance (B04, B08) at 10 m, one scene a month.",
        extent=pystac.Extent(
            pystac.SpatialExtent([_bbox(footprint)]),
            pystac.TemporalExtent([[items[0].datetime, items[-1].datetime]]),
        ),
        license="CC0-1.0",
    )
    collection.add_items(items)
    catalog.add_child(collection)
    catalog.normalize_hrefs(str(out_dir))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return out_dir / "catalog.json"


def _item(spec: RegionSpec, footprint: list[list[float]], month: dt.date) -> Any:
    import pystac

    name = item_id(spec, month)
    item = pystac.Item(
        id=name,
        geometry={"type": "Polygon", "coordinates": [footprint]},
        bbox=_bbox(footprint),
        datetime=dt.datetime(month.year, month.month, 15, 10, tzinfo=dt.UTC),
        properties={"constellation": "sentinel-2", "instruments": ["msi"], "gsd": PIXEL_M},
    )
    for asset, band in BANDS.items():
        item.add_asset(
            asset,
            pystac.Asset(
                href=f"./{name}_{band}.tif", title=f"{band} ({asset})", media_type=MEDIA_TYPE, roles=["data"]
            ),
        )
    return item


def _footprint(grid: SceneGrid) -> list[list[float]]:
    """The scene's outline in WGS84: a closed counter-clockwise ring of its corners (at tens of kilometres
    the edges bend by far less than a pixel)."""
    west, south, east, north = grid.bounds
    lons, lats = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True).transform(
        [west, east, east, west], [south, south, north, north]
    )
    ring = [[round(float(lon), 7), round(float(lat), 7)] for lon, lat in zip(lons, lats, strict=True)]
    return [*ring, ring[0]]


def _bbox(ring: list[list[float]]) -> list[float]:
    lons, lats = [point[0] for point in ring], [point[1] for point in ring]
    return [min(lons), min(lats), max(lons), max(lats)]
