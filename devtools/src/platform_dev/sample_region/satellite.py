"""Sentinel-2-like scenes of the sample region, three acquisitions a month, with a static STAC catalogue.

Reflectance follows the land cover of :mod:`terrain` (water dark in the NIR, forest bright, cropland
greening up in early summer), so an NDVI computed downstream recovers the land cover. The surface is
the same for the three acquisitions of a month (its state on the 15th); clouds, noise and the swath
edge differ per acquisition, so a composite has clear views to pick from. Each acquisition has red
and near-infrared bands at 10 m and a scene classification (SCL) at 20 m that flags every 20 m pixel
a cloud touches at all: a band pixel under any cloud is always inside a cloudy SCL pixel.

Each band is written block by block into a tiled GTiff and then copied into a COG, so the bench
region never has a whole band in memory. Scenes are a pure function of the region and the
acquisition: a later version of the catalogue adds or withdraws months without rewriting the others,
and their files stay byte-identical.

rasterio and pystac are imported inside the functions: code-location servers import this module and must
stay light. pyproj is imported here on purpose: the ecCodes wheels preload their own PROJ into the global
symbol scope, and a pyproj loaded after that cannot find its database.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator, Mapping, Sequence
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
SCL_FACTOR = 2  # the SCL's 20 m pixel spans 2 x 2 band pixels
SCALE = 10_000
NODATA = 0
BLOCK = 512  # a multiple of SCL_FACTOR, so every block maps onto whole SCL pixels
COLLECTION_ID = "sentinel-2-l2a-sample"
MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
BANDS = {"red": "B04", "nir": "B08"}
SCL_ASSET, SCL_BAND = "scl", "SCL"
ACQUISITION_DAYS = (5, 15, 25)
ACQUISITION_HOUR = 10
SURFACE_DAY = 15
RECORD_MONTHS = 6
VERSIONS = (1, 2)
V1_MONTHS = 4
WITHDRAWN_INDEX = 1  # the record's second month is taken down again in version 2
MAX_CLOUD_FRACTION = 0.6
CLOUD_REFLECTANCE = {"red": 0.55, "nir": 0.60}
CLOUD_WAVELENGTHS_M = (2_000.0, 8_000.0)
CLOUD_WAVES = 6
CLOUD_RAMP = 0.4  # field units from a cloud's edge (amount 0) to its opaque core (amount 1)
SWATH_EDGE_PROBABILITY = 0.5
# Sentinel-2 L2A scene classification values the generator writes.
SCL_NO_DATA, SCL_VEGETATION, SCL_NOT_VEGETATED, SCL_WATER = 0, 4, 5, 6
SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH = 8, 9
HIGH_CLOUD_AMOUNT = 0.5
BARE_CROP_GREENNESS = 0.3  # cropland below this greenness is bare soil to the classifier


@dataclass(frozen=True)
class SceneGrid:
    """The 10 m UTM grid that covers the region; every scene shares it (the SCL at twice the pixel)."""

    west: float
    north: float
    width: int
    height: int

    def transform(self, pixel_m: float = PIXEL_M) -> Any:
        from rasterio.transform import from_origin

        return from_origin(self.west, self.north, pixel_m, pixel_m)

    @property
    def scl_shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the 20 m SCL grid: same origin, the last pixel may stick out by 10 m."""
        return -(-self.height // SCL_FACTOR), -(-self.width // SCL_FACTOR)

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
class Surface:
    """The vegetation state of a month, shared by its acquisitions."""

    month: dt.date
    crop_greenness: float
    leaf_greenness: float


@dataclass(frozen=True)
class Acquisition:
    """What changes from one overpass to the next: clouds and the swath edge (and the noise it seeds)."""

    when: dt.date
    surface: Surface
    cloud_wavevectors: np.ndarray
    cloud_phases: np.ndarray
    cloud_threshold: float
    swath_edge: tuple[float, float] | None
    edge_corner: tuple[int, int]


def _record_months(spec: RegionSpec) -> list[dt.date]:
    last = spec.end.year * 12 + spec.end.month - 1
    return [dt.date(index // 12, index % 12 + 1, 1) for index in range(last - RECORD_MONTHS + 1, last + 1)]


def default_months(spec: RegionSpec, version: int) -> list[dt.date]:
    """Version 1 holds the first four of the record's last six months; version 2 all six but the one it
    withdraws (see :func:`withdrawn_months`)."""
    if version not in VERSIONS:
        raise ValueError(f"catalogue versions are {VERSIONS}, got {version}")
    months = _record_months(spec)
    if version == 1:
        return months[:V1_MONTHS]
    withdrawn = set(withdrawn_months(spec))
    return [month for month in months if month not in withdrawn]


def withdrawn_months(spec: RegionSpec) -> list[dt.date]:
    """Months published in version 1 whose items version 2 no longer lists (2023-08 by default)."""
    return [_record_months(spec)[WITHDRAWN_INDEX]]


def acquisitions(month: dt.date) -> list[dt.date]:
    """The month's overpass days."""
    return [month.replace(day=day) for day in ACQUISITION_DAYS]


def item_id(spec: RegionSpec, acquisition: dt.date) -> str:
    return f"S2_{spec.name}_{acquisition:%Y%m%d}"


def write_satellite(spec: RegionSpec, out_dir: Path, months: Sequence[dt.date]) -> Path:
    """Write the scenes that are missing and the catalogue of ``months``; returns ``catalog.json``.

    ``months`` is the whole list the catalogue should hold (as :func:`default_months` gives it), not
    only the new ones: scenes already on disk are kept as they are, and item folders of acquisitions
    the catalogue no longer lists are removed once it is published (the provider withdrew them).
    """
    if not months:
        raise ValueError("a catalogue needs at least one month")
    grid = scene_grid(spec)
    firsts = sorted({month.replace(day=1) for month in months})
    days = [day for month in firsts for day in acquisitions(month)]
    pending = [
        day for day in days if not all(path.exists() for path in _asset_paths(spec, out_dir, day).values())
    ]
    _write_scenes(spec, grid, out_dir, pending)
    catalog = _publish_catalog(spec, grid, out_dir, days)
    _remove_withdrawn(spec, out_dir, days)
    return catalog


def write_versions(spec: RegionSpec, out_dir: Path) -> dict[int, Path]:
    """Every catalogue version in a folder of its own, ``out_dir/v1`` and ``out_dir/v2``; returns each
    version's ``catalog.json``. A version starts as a copy of the one before, as a provider republishes:
    only its new months' scenes are generated and the withdrawn ones removed, the others stay
    byte-identical."""
    catalogs: dict[int, Path] = {}
    for version in VERSIONS:
        folder = out_dir / f"v{version}"
        if version > VERSIONS[0]:
            shutil.copytree(out_dir / f"v{version - 1}", folder, dirs_exist_ok=True)
        catalogs[version] = write_satellite(spec, folder, default_months(spec, version))
    return catalogs


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


def true_ndvi(spec: RegionSpec, month: dt.date, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Noise- and cloud-free NDVI of ``month`` at points ``x, y`` in the region CRS (EPSG:2180)."""
    reflectance = _surface_reflectance(surface(month), land_cover(spec, x, y))
    red, nir = reflectance["red"], reflectance["nir"]
    return (nir - red) / (nir + red)


def clear_sky(spec: RegionSpec, acquisition: dt.date, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where ``acquisition`` sees the ground at points ``x, y`` (region CRS): no cloud at all
    (amount 0) and inside the swath."""
    if acquisition.day not in ACQUISITION_DAYS:
        raise ValueError(f"{acquisition} is no acquisition: the satellite passes on days {ACQUISITION_DAYS}")
    grid = scene_grid(spec)
    scene = _acquisition(spec, grid, acquisition)
    east, north = Transformer.from_crs(CRS, UTM_CRS, always_xy=True).transform(
        np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    )
    waves = sum(
        np.cos(kx * east + ky * north + phase)
        for (kx, ky), phase in zip(scene.cloud_wavevectors, scene.cloud_phases, strict=True)
    )
    field = np.asarray(waves) * np.sqrt(2 / len(scene.cloud_phases))
    across = (east - grid.west) / (grid.width * PIXEL_M)
    down = (grid.north - north) / (grid.height * PIXEL_M)
    return (field <= scene.cloud_threshold) & ~_cut_off(scene, across, down)


def surface(month: dt.date) -> Surface:
    """The vegetation state on the month's 15th: crops peak in June, leaves in July."""
    day = month.replace(day=SURFACE_DAY)
    day_of_year = (day - dt.date(day.year, 1, 1)).days
    return Surface(
        month=month.replace(day=1),
        crop_greenness=float(np.exp(-(((day_of_year - 170) / 45) ** 2))),
        leaf_greenness=float(0.5 + 0.5 * np.cos(2 * np.pi * (day_of_year - 196) / 365.25)),
    )


def _asset_paths(spec: RegionSpec, out_dir: Path, acquisition: dt.date) -> dict[str, Path]:
    """Where the COGs lie: beside the item's JSON, in the folder pystac gives the item."""
    name = item_id(spec, acquisition)
    folder = out_dir / COLLECTION_ID / f"{acquisition:%Y}" / name
    bands = {**BANDS, SCL_ASSET: SCL_BAND}
    return {asset: folder / f"{name}_{band}.tif" for asset, band in bands.items()}


def _write_scenes(spec: RegionSpec, grid: SceneGrid, out_dir: Path, days: Sequence[dt.date]) -> None:
    """All pending acquisitions in one pass over the blocks, so the land cover is computed once per
    block."""
    import rasterio

    from shared.rasters.cog import tiled_gtiff_profile

    if not days:
        return
    scenes = [_acquisition(spec, grid, day) for day in days]
    staging = {
        (day, asset): path.with_suffix(".staging.tif")
        for day in days
        for asset, path in _asset_paths(spec, out_dir, day).items()
    }
    band_profile = tiled_gtiff_profile(grid.width, grid.height, "uint16", UTM_CRS, grid.transform(), NODATA)
    scl_rows, scl_cols = grid.scl_shape
    scl_transform = grid.transform(PIXEL_M * SCL_FACTOR)
    scl_profile = tiled_gtiff_profile(scl_cols, scl_rows, "uint8", UTM_CRS, scl_transform, SCL_NO_DATA)
    with ExitStack() as stack:
        sinks = {}
        for (day, asset), path in staging.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            profile = scl_profile if asset == SCL_ASSET else band_profile
            sinks[(day, asset)] = stack.enter_context(rasterio.open(path, "w", **profile))
        to_region = Transformer.from_crs(UTM_CRS, CRS, always_xy=True)
        for window in grid.windows():
            cover = land_cover(spec, *to_region.transform(*np.meshgrid(*grid.axes(*window))))
            for scene in scenes:
                for asset, values in _block_assets(spec, grid, scene, cover, window).items():
                    target = _scl_window(window) if asset == SCL_ASSET else window
                    sinks[(scene.when, asset)].write(values, 1, window=_rasterio_window(target))
    for (day, asset), path in staging.items():
        _publish_cog(path, _asset_paths(spec, out_dir, day)[asset], categorical=asset == SCL_ASSET)


def _scl_window(window: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    row_off, col_off, rows, cols = window
    return row_off // SCL_FACTOR, col_off // SCL_FACTOR, -(-rows // SCL_FACTOR), -(-cols // SCL_FACTOR)


def _publish_cog(staging: Path, final: Path, categorical: bool) -> None:
    """Copy into a COG under a temporary name and rename it, so an interrupted run never leaves a partial
    file that a later run would take for a finished scene. Class overviews take the nearest value:
    an average of classes is no class."""
    from shared.rasters.cog import copy_to_cog

    partial = final.with_suffix(".cog.tmp")
    overrides = {"RESAMPLING": "NEAREST", "PREDICTOR": "NO"} if categorical else {}
    copy_to_cog(staging, partial, **overrides)
    partial.replace(final)
    staging.unlink()


def _rasterio_window(window: tuple[int, int, int, int]) -> Any:
    from rasterio.windows import Window

    row_off, col_off, rows, cols = window
    return Window(col_off, row_off, cols, rows)


def _acquisition(spec: RegionSpec, grid: SceneGrid, day: dt.date) -> Acquisition:
    """Draw an acquisition's clouds and swath edge; the cloud threshold comes from a coarse look at the
    whole scene so that every block cuts the same smooth field at the same level."""
    rng = np.random.default_rng([spec.seed, 13, day.year, day.month, day.day])
    lengths = rng.uniform(*CLOUD_WAVELENGTHS_M, size=CLOUD_WAVES)
    angles = rng.uniform(0, 2 * np.pi, size=CLOUD_WAVES)
    wavevectors = 2 * np.pi / lengths[:, None] * np.column_stack([np.cos(angles), np.sin(angles)])
    phases = rng.uniform(0, 2 * np.pi, size=CLOUD_WAVES)
    cloud_fraction = rng.uniform(0, MAX_CLOUD_FRACTION)
    west, south, east, north = grid.bounds
    coarse = _cloud_field(wavevectors, phases, np.linspace(west, east, 96), np.linspace(south, north, 96))
    legs = rng.uniform(0.2, 0.6, size=2)
    corner_rng = np.random.default_rng([spec.seed, 14])
    return Acquisition(
        when=day,
        surface=surface(day),
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


def _block_assets(
    spec: RegionSpec,
    grid: SceneGrid,
    scene: Acquisition,
    cover: np.ndarray,
    window: tuple[int, int, int, int],
) -> dict[str, np.ndarray]:
    """One block of an acquisition: scaled uint16 reflectance (surface, noise, clouds blended over it,
    the swath edge) and the matching block of the 20 m SCL."""
    row_off, col_off, rows, cols = window
    when = scene.when
    rng = np.random.default_rng([spec.seed, 15, when.year, when.month, when.day, row_off, col_off])
    field = _cloud_field(scene.cloud_wavevectors, scene.cloud_phases, *grid.axes(*window))
    cloud = _smoothstep((field - scene.cloud_threshold) / CLOUD_RAMP)
    across = (col_off + np.arange(cols) + 0.5) / grid.width
    down = (row_off + np.arange(rows) + 0.5) / grid.height
    outside = _cut_off(scene, across[None, :], down[:, None])
    assets = {}
    for asset, reflectance in _surface_reflectance(scene.surface, cover).items():
        gain, offset = rng.standard_normal((2, *cover.shape))
        noisy = reflectance * (1 + 0.05 * gain) + 0.003 * offset
        blended = noisy * (1 - cloud) + CLOUD_REFLECTANCE[asset] * cloud
        scaled = np.clip(np.round(blended * SCALE), 1, SCALE).astype(np.uint16)
        scaled[outside] = NODATA
        assets[asset] = scaled
    assets[SCL_ASSET] = _scene_classes(scene.surface, cover, cloud, outside)
    return assets


def _scene_classes(state: Surface, cover: np.ndarray, cloud: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """The block's 20 m SCL: the land cover class of each pixel's first sub-pixel, a cloud class where
    any sub-pixel has cloud, no data where any lies outside the swath (a partial pixel at the grid's
    edge pools the sub-pixels it has)."""
    rows, cols = cover.shape
    pad = ((0, -rows % SCL_FACTOR), (0, -cols % SCL_FACTOR))
    amount = _pool(np.pad(cloud, pad), np.max)
    missing = _pool(np.pad(outside, pad), np.any)
    crop = SCL_VEGETATION if state.crop_greenness >= BARE_CROP_GREENNESS else SCL_NOT_VEGETATED
    table = {
        WATER: SCL_WATER,
        CROPLAND: crop,
        GRASSLAND: SCL_VEGETATION,
        FOREST: SCL_VEGETATION,
        BUILT: SCL_NOT_VEGETATED,
    }
    classes = _lookup(table, cover[::SCL_FACTOR, ::SCL_FACTOR]).astype(np.uint8)
    classes[amount > 0] = SCL_CLOUD_MEDIUM
    classes[amount > HIGH_CLOUD_AMOUNT] = SCL_CLOUD_HIGH
    classes[missing] = SCL_NO_DATA
    return classes


def _pool(values: np.ndarray, reduce: Any) -> np.ndarray:
    """Reduce each SCL_FACTOR x SCL_FACTOR cell of ``values`` (whose sides are multiples of it)."""
    rows, cols = values.shape
    cells = values.reshape(rows // SCL_FACTOR, SCL_FACTOR, cols // SCL_FACTOR, SCL_FACTOR)
    return np.asarray(reduce(cells, axis=(1, 3)))


def _surface_reflectance(state: Surface, cover: np.ndarray) -> dict[str, np.ndarray]:
    """Reflectance (0-1) of each land cover class in the month's vegetation state."""
    crop, leaf = state.crop_greenness, state.leaf_greenness
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


def _lookup(table: Mapping[int, float], cover: np.ndarray) -> np.ndarray:
    values = np.zeros(max(table) + 1)
    values[list(table)] = list(table.values())
    return values[cover]


def _cut_off(scene: Acquisition, across: np.ndarray, down: np.ndarray) -> np.ndarray:
    """The triangle cut off one corner where the scene lies at the edge of the satellite's swath;
    ``across`` and ``down`` are positions as fractions of the grid's width and height (broadcast)."""
    if scene.swath_edge is None:
        return np.zeros(np.broadcast_shapes(np.shape(across), np.shape(down)), dtype=bool)
    corner_col, corner_row = scene.edge_corner
    from_col = np.abs(across - corner_col) / scene.swath_edge[0]
    from_row = np.abs(down - corner_row) / scene.swath_edge[1]
    return np.asarray((from_row + from_col) < 1.0)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _publish_catalog(spec: RegionSpec, grid: SceneGrid, out_dir: Path, days: Sequence[dt.date]) -> Path:
    """Save the catalogue beside the scenes, then move its files into place with the root last, so a
    reader never finds a root that links to files not yet written."""
    staging = out_dir / ".catalog-staging"
    shutil.rmtree(staging, ignore_errors=True)
    _catalog(spec, grid, days, staging)
    files = sorted(path for path in staging.rglob("*.json") if path != staging / "catalog.json")
    for path in [*files, staging / "catalog.json"]:
        final = out_dir / path.relative_to(staging)
        final.parent.mkdir(parents=True, exist_ok=True)
        path.replace(final)
    shutil.rmtree(staging)
    return out_dir / "catalog.json"


def _remove_withdrawn(spec: RegionSpec, out_dir: Path, days: Sequence[dt.date]) -> None:
    """Delete the item folders of acquisitions this catalogue no longer lists, and year folders it no
    longer has."""
    collection = out_dir / COLLECTION_ID
    listed, years = {item_id(spec, day) for day in days}, {f"{day:%Y}" for day in days}
    for folder in sorted(collection.glob(f"*/S2_{spec.name}_*")):
        if folder.is_dir() and folder.name not in listed:
            shutil.rmtree(folder)
    for year in sorted(collection.glob("[0-9][0-9][0-9][0-9]")):
        if year.is_dir() and year.name not in years:
            shutil.rmtree(year)


def _catalog(spec: RegionSpec, grid: SceneGrid, days: Sequence[dt.date], root: Path) -> None:
    """A self-contained static catalogue with relative links: catalog -> collection -> one catalogue per
    year -> one item per acquisition, the layout a reader pages through by child links."""
    import pystac

    catalog = pystac.Catalog(
        id=f"{spec.name}-satellite",
        description=f"Sentinel-2-like red, near-infrared and scene classification of the {spec.name} region.",
    )
    footprint = _footprint(grid)
    items = [_item(spec, grid, footprint, day) for day in days]
    collection = pystac.Collection(
        id=COLLECTION_ID,
        description=(
            "Synthetic Sentinel-2 L2A: surface reflectance B04 and B08 at 10 m and the scene classification "
            "(SCL) at 20 m, three acquisitions a month."
        ),
        extent=pystac.Extent(
            pystac.SpatialExtent([_bbox(footprint)]),
            pystac.TemporalExtent([[items[0].datetime, items[-1].datetime]]),
        ),
        license="CC0-1.0",
    )
    catalog.add_child(collection)
    for year in sorted({day.year for day in days}):
        child = pystac.Catalog(id=f"{year}", description=f"Acquisitions of {year}.")
        collection.add_child(child)
        for item in items:
            if item.datetime is not None and item.datetime.year == year:
                child.add_item(item)
                item.set_collection(collection)
    catalog.normalize_hrefs(str(root))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)


def _item(spec: RegionSpec, grid: SceneGrid, footprint: list[list[float]], day: dt.date) -> Any:
    import pystac
    from pystac.extensions.projection import ProjectionExtension

    name = item_id(spec, day)
    item = pystac.Item(
        id=name,
        geometry={"type": "Polygon", "coordinates": [footprint]},
        bbox=_bbox(footprint),
        datetime=dt.datetime(day.year, day.month, day.day, ACQUISITION_HOUR, tzinfo=dt.UTC),
        properties={"constellation": "sentinel-2", "instruments": ["msi"], "gsd": PIXEL_M},
    )
    ProjectionExtension.ext(item, add_if_missing=True).code = UTM_CRS
    grids = {asset: (PIXEL_M, (grid.height, grid.width)) for asset in BANDS}
    grids[SCL_ASSET] = (PIXEL_M * SCL_FACTOR, grid.scl_shape)
    titles = {
        **{asset: f"{band} ({asset})" for asset, band in BANDS.items()},
        SCL_ASSET: "Scene classification",
    }
    for asset, path in _asset_paths(spec, Path(), day).items():
        pixel_m, shape = grids[asset]
        item.add_asset(
            asset,
            pystac.Asset(
                href=f"./{path.name}",
                title=titles[asset],
                media_type=MEDIA_TYPE,
                roles=["data"],
                extra_fields={"gsd": pixel_m},
            ),
        )
        projection = ProjectionExtension.ext(item.assets[asset])
        projection.shape = list(shape)
        projection.transform = [pixel_m, 0.0, grid.west, 0.0, -pixel_m, grid.north]
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
