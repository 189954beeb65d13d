"""Cloud-masked NDVI composites of a month's scenes on a region's grid, computed block by block.

For each 512 x 512 block of the output (aligned with the tiles of the GTiff it is written into) every
scene's red, near-infrared and mask pixels are sampled at the block's cell centres: nearest-neighbour
resampling, like GDAL's ``NEAREST``, but from ONE map of source coordinates per block, so a band pixel and
its mask pixel always come from the same place even when the mask is coarser than the bands (Sentinel-2's
20 m scene classification under 10 m bands). Two independent warps each approximate the coordinate
transformation on their own and can disagree on a pixel at a shared edge; one map cannot. The map is the
exact transformation at a lattice of cell centres :data:`LATTICE_SPAN_M` apart (whole cells, at least one),
interpolated in between: a projection bends by well under a millimetre over that ground distance, whatever
the cell size (a fixed count of cells would span kilometres on a coarse grid).

Invalid pixels (band nodata, mask not clear per the :class:`MaskRule`, red + nir <= 0) are dropped, NDVI
is taken per observation, and the composite is the per-pixel median of the clear observations beside their
count. Each scene's datasets are opened once per composite and read through the GDAL block cache, so peak
memory is ``GDAL_CACHEMAX`` plus a few blocks per scene, never a whole band. A scene that cannot be opened
or read, or whose bands disagree, is skipped with its reason as long as one scene is usable.

rasterio (GDAL) is imported inside the functions: the code location imports this module.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from affine import Affine

from shared.rasters.cog import COG_BLOCK_SIZE, copy_to_cog, tiled_gtiff_profile
from shared.rasters.gdal_cache import DEFAULT_GDAL_CACHE_MB, gdal_cache_env

NODATA = -9999.0
"""Nodata of both composite bands (the count band is 0, not nodata, where no clear observation exists)."""
BAND_DESCRIPTIONS = ("ndvi", "valid_observations")
LATTICE_SPAN_M = 160.0
"""Ground distance between the exactly transformed points of a block's coordinate map (16 cells at 10 m)."""
SORTING_NETWORK_MAX = 8
"""Up to this many observations a pixel, a compare-exchange network sorts faster than ``np.sort``."""
_GDAL_OPTIONS = {"GDAL_PAM_ENABLED": "NO"}
"""No ``.aux.xml`` beside scenes or outputs: statistics live inside the COG."""


@dataclass(frozen=True)
class SceneBands:
    """One acquisition: where GDAL opens its red and near-infrared bands and its cloud mask."""

    item_id: str
    red: str
    nir: str
    mask: str


@dataclass(frozen=True)
class MaskRule:
    """Which mask values are clear sky.

    ``classes``: a classification band (Sentinel-2 SCL) where only ``clear_values`` are kept.
    ``bits``: a quality bitmask where a pixel is clear when none of ``cloud_bits`` is set (Landsat
    QA_PIXEL: 1 = cloud) and all of ``pass_bits`` are (bands where 1 = test passed: GA's PQ25, QA_PIXEL's
    bit 6 "clear"). The mask's nodata is never clear.
    """

    kind: Literal["classes", "bits"]
    clear_values: frozenset[int] = frozenset()
    cloud_bits: frozenset[int] = frozenset()
    pass_bits: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if self.kind == "classes" and not self.clear_values:
            raise ValueError("a 'classes' mask rule needs at least one clear value")
        if self.kind == "bits" and not (self.cloud_bits or self.pass_bits):
            raise ValueError("a 'bits' mask rule needs at least one cloud bit or pass bit")

    def clear_table(self, dtype: np.dtype[Any], nodata: float | None) -> np.ndarray:
        """A boolean lookup table over every value of an 8- or 16-bit unsigned mask: ``table[mask]`` is
        the clear-sky flag, far faster per block than testing classes or bits."""
        if dtype not in (np.uint8, np.uint16):
            raise ValueError(f"masks must be uint8 or uint16, got {dtype}")
        values = np.arange(np.iinfo(dtype).max + 1)
        if self.kind == "classes":
            table = np.isin(values, sorted(self.clear_values))
        else:
            cloud = sum(1 << bit for bit in self.cloud_bits)
            passing = sum(1 << bit for bit in self.pass_bits)
            table = ((values & cloud) == 0) & ((values & passing) == passing)
        if nodata is not None and float(nodata).is_integer() and 0 <= nodata < len(table):
            table[int(nodata)] = False
        return table


SCL_RULE = MaskRule("classes", clear_values=frozenset({4, 5, 6}))
"""Sentinel-2 L2A scene classification: vegetation, not vegetated, water. Unclassified (7) and snow (11)
are not kept: both hide clouds on real scenes."""


@dataclass(frozen=True)
class TargetGrid:
    """The output grid: CRS, affine transform (a, b, c, d, e, f in GDAL order) and size in cells."""

    crs: str
    transform: tuple[float, ...]
    width: int
    height: int

    @property
    def cell_size(self) -> float:
        """The cells' width in the grid's units (metres: the grids are projected)."""
        return abs(float(self.transform[0]))

    @property
    def affine(self) -> Affine:
        return Affine(*self.transform[:6])

    def blocks(self, size: int) -> Iterator[tuple[int, int, int, int]]:
        """``(row_off, col_off, rows, cols)`` of each block, row by row, aligned with ``size`` tiles."""
        for row_off in range(0, self.height, size):
            for col_off in range(0, self.width, size):
                yield row_off, col_off, min(size, self.height - row_off), min(size, self.width - col_off)


def region_grid(bounds: tuple[float, float, float, float], crs: str, resolution_m: float) -> TargetGrid:
    """A north-up grid of ``resolution_m`` cells over ``bounds`` (west, south, east, north), snapped
    outward to multiples of the cell. Two months of a region lie on the same cells when their scenes
    declare the same cell size (the composite's cell is the scenes' finest); a month of coarser scenes
    gets a coarser grid over the same bounds."""
    if resolution_m <= 0:
        raise ValueError(f"the grid's resolution must be positive, got {resolution_m}")
    west, south, east, north = (value / resolution_m for value in bounds)
    if not (east > west and north > south):
        raise ValueError(f"grid bounds must have east > west and north > south, got {bounds}")
    # Rounded first, so bounds already on the lattice are not pushed out by a floating-point ulp.
    left, bottom = math.floor(round(west, 6)), math.floor(round(south, 6))
    right, top = math.ceil(round(east, 6)), math.ceil(round(north, 6))
    transform = (resolution_m, 0.0, left * resolution_m, 0.0, -resolution_m, top * resolution_m)
    return TargetGrid(crs=crs, transform=transform, width=right - left, height=top - bottom)


@dataclass(frozen=True)
class CompositeSummary:
    """What a composite holds, for the asset's metadata and checks."""

    pixels: int
    valid_pixels: int
    valid_fraction: float
    ndvi_min: float | None
    ndvi_max: float | None
    ndvi_mean: float | None
    observations: Mapping[str, int] = field(default_factory=dict)
    """Clear observations each used scene contributed, by item id."""
    skipped: Mapping[str, str] = field(default_factory=dict)
    """Why each unusable scene was left out, by item id."""


class SceneError(Exception):
    """A scene that cannot take part: unreadable, or its bands disagree."""

    def __init__(self, item_id: str, reason: str) -> None:
        super().__init__(f"{item_id}: {reason}")
        self.item_id = item_id
        self.reason = reason


def composite_ndvi(
    scenes: Sequence[SceneBands],
    grid: TargetGrid,
    destination: Path,
    rule: MaskRule = SCL_RULE,
    *,
    reflectance_scale: float = 1e-4,
    block: int = COG_BLOCK_SIZE,
    gdal_cache_mb: int = DEFAULT_GDAL_CACHE_MB,
) -> CompositeSummary:
    """Write the median-NDVI composite of ``scenes`` on ``grid`` to ``destination`` (a COG).

    Digital numbers become reflectance as ``dn * reflectance_scale`` (NDVI is invariant to the scale;
    a product with an additive offset, as Sentinel-2's processing baseline 04.00 has, would need one
    here, which no catalogue this platform reads declares). A scene
    that fails mid-way (a corrupt tile) is dropped and the composite starts again without it, so no
    block ever holds a part of its observations.
    """
    import rasterio

    if not scenes:
        raise ValueError("an NDVI composite needs at least one scene")
    if block <= 0 or block % 16:
        raise ValueError(f"the block size must be a positive multiple of 16 (GTiff tiles), got {block}")
    skipped: dict[str, str] = {}
    with rasterio.Env(**gdal_cache_env(gdal_cache_mb), **_GDAL_OPTIONS):
        while True:
            try:
                return _composite(scenes, grid, destination, rule, reflectance_scale, block, skipped)
            except SceneError as error:
                skipped[error.item_id] = error.reason


def _composite(
    scenes: Sequence[SceneBands],
    grid: TargetGrid,
    destination: Path,
    rule: MaskRule,
    reflectance_scale: float,
    block: int,
    skipped: dict[str, str],
) -> CompositeSummary:
    """One attempt over the scenes not yet ``skipped``; scenes that cannot be opened join ``skipped`` here,
    a scene that fails while read raises :class:`SceneError` for the caller to start again without it."""
    import rasterio
    from rasterio.windows import Window

    staging = destination.with_name(f"{destination.stem}.staging.tif")
    try:
        # The scenes close before the copy, which frees their blocks in the GDAL cache for it.
        with ExitStack() as stack:
            opened = _open_scenes(stack, scenes, rule, skipped)
            tally = _Tally({scene.item_id: 0 for scene in opened})
            profile = tiled_gtiff_profile(grid.width, grid.height, "float32", grid.crs, grid.affine, NODATA)
            # Read once, right after: the fastest ZSTD level writes several times faster than the default.
            profile |= {"count": 2, "blockxsize": block, "blockysize": block, "ZSTD_LEVEL": 1}
            sink = stack.enter_context(rasterio.open(staging, "w", **profile))
            for index, description in enumerate(BAND_DESCRIPTIONS, start=1):
                sink.set_band_description(index, description)
            for window in grid.blocks(block):
                median, count = _composite_block(
                    opened, grid, window, reflectance_scale, tally, block * block
                )
                row_off, col_off, rows, cols = window
                sink.write(np.stack([median, count]), window=Window(col_off, row_off, cols, rows))
        copy_to_cog(staging, destination)
    finally:
        staging.unlink(missing_ok=True)
    return tally.summary(grid.width * grid.height, dict(skipped))


def _open_scenes(
    stack: ExitStack, scenes: Sequence[SceneBands], rule: MaskRule, skipped: dict[str, str]
) -> list[_OpenScene]:
    """Open every scene not yet ``skipped``; those that cannot be used join ``skipped``."""
    opened = []
    for scene in scenes:
        if scene.item_id in skipped:
            continue
        try:
            opened.append(_open_scene(stack, scene, rule))
        except SceneError as error:
            skipped[error.item_id] = error.reason
    if not opened:
        listing = "; ".join(f"{item}: {reason}" for item, reason in skipped.items())
        raise ValueError(f"no usable scene for the NDVI composite of {len(scenes)} scenes: {listing}")
    return opened


@dataclass(frozen=True)
class _Raster:
    """An opened band or mask, with what sampling it needs."""

    dataset: Any
    name: str
    path: str
    nodata: float | None


@dataclass
class _OpenScene:
    item_id: str
    crs: Any
    crs_key: str
    """The CRS as WKT: scenes in one CRS share a block's source points."""
    red: _Raster
    nir: _Raster
    mask: _Raster
    clear: np.ndarray
    """The mask rule's lookup table for this scene's mask type."""


def _open_scene(stack: ExitStack, scene: SceneBands, rule: MaskRule) -> _OpenScene:
    """Open the scene's three rasters and check that they can be composited together."""
    # Bands without declared nodata: Sentinel-2 and Landsat mark missing pixels with 0.
    red, nir, mask = (
        _open_raster(stack, scene.item_id, name, path, default_nodata)
        for name, path, default_nodata in (
            ("red", scene.red, 0.0),
            ("nir", scene.nir, 0.0),
            ("mask", scene.mask, None),
        )
    )
    bands = red.dataset
    if bands.crs is None:
        raise SceneError(scene.item_id, f"red ({red.path}) has no CRS")
    for other in (nir, mask):
        if other.dataset.crs != bands.crs:
            raise SceneError(
                scene.item_id, f"{other.name} CRS {other.dataset.crs} differs from red's {bands.crs}"
            )
    if (nir.dataset.transform, nir.dataset.shape) != (bands.transform, bands.shape):
        raise SceneError(
            scene.item_id,
            f"nir grid {nir.dataset.shape} {tuple(nir.dataset.transform)[:6]} differs from red's "
            f"{bands.shape} {tuple(bands.transform)[:6]}",
        )
    # The mask may be coarser, so its edges may overshoot the bands' by less than one of its pixels.
    tolerance = max(abs(mask.dataset.res[0]), abs(mask.dataset.res[1]))
    if any(abs(m - b) >= tolerance for m, b in zip(mask.dataset.bounds, bands.bounds, strict=True)):
        raise SceneError(
            scene.item_id,
            f"mask footprint {tuple(mask.dataset.bounds)} differs from the bands' {tuple(bands.bounds)} "
            f"by a mask pixel ({tolerance} m) or more",
        )
    try:
        clear = rule.clear_table(np.dtype(mask.dataset.dtypes[0]), mask.nodata)
    except ValueError as error:
        raise SceneError(scene.item_id, f"mask ({mask.path}): {error}") from None
    return _OpenScene(scene.item_id, bands.crs, bands.crs.to_wkt(), red, nir, mask, clear)


def _open_raster(
    stack: ExitStack, item_id: str, name: str, path: str, default_nodata: float | None
) -> _Raster:
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        dataset = stack.enter_context(rasterio.open(path))
    except RasterioIOError as error:
        raise SceneError(item_id, f"cannot open {name} ({path}): {error}") from None
    return _Raster(dataset, name, path, default_nodata if dataset.nodata is None else dataset.nodata)


def _composite_block(
    scenes: Sequence[_OpenScene],
    grid: TargetGrid,
    window: tuple[int, int, int, int],
    reflectance_scale: float,
    tally: _Tally,
    max_read: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Median NDVI and clear-observation count of one output block.

    A block whose points spread over more than ``max_read`` cells of some scene raster (an output much
    coarser than the scenes) is done in quarters, so no read grows with the ratio of the cell sizes.
    """
    row_off, col_off, rows, cols = window
    points: dict[str, _Points] = {}
    for scene in scenes:
        if scene.crs_key not in points:
            points[scene.crs_key] = _source_points(grid, window, scene.crs)
    spans = [
        _span(raster.dataset, points[scene.crs_key]) for scene in scenes for raster in (scene.red, scene.mask)
    ]
    if max(span.cells if span else 0 for span in spans) > max_read and max(rows, cols) > 1:
        median, count = np.empty((rows, cols), np.float32), np.empty((rows, cols), np.float32)
        half_rows, half_cols = -(-rows // 2), -(-cols // 2)
        for top, height in ((0, half_rows), (half_rows, rows - half_rows)):
            for left, width in ((0, half_cols), (half_cols, cols - half_cols)):
                if height and width:
                    quarter = (row_off + top, col_off + left, height, width)
                    part = _composite_block(scenes, grid, quarter, reflectance_scale, tally, max_read)
                    median[top : top + height, left : left + width] = part[0]
                    count[top : top + height, left : left + width] = part[1]
        return median, count
    observations = []
    for index, scene in enumerate(scenes):
        band_span, mask_span = spans[2 * index : 2 * index + 2]
        if band_span is None or mask_span is None:
            continue
        sampled = _scene_ndvi(scene, points[scene.crs_key], band_span, mask_span, reflectance_scale)
        if sampled is not None:
            ndvi, clear = sampled
            observations.append(ndvi)
            tally.observations[scene.item_id] += clear
    if not observations:
        return np.full((rows, cols), NODATA, np.float32), np.zeros((rows, cols), np.float32)
    median, count = median_and_count(np.stack(observations))
    tally.add(median, count)
    return median, count.astype(np.float32)


def _scene_ndvi(
    scene: _OpenScene, points: _Points, band_span: _Span, mask_span: _Span, reflectance_scale: float
) -> tuple[np.ndarray, int] | None:
    """The scene's NDVI at the block's points (NaN where not a clear, valid observation) and how many
    clear observations it holds, or None where no point falls inside the scene."""
    band_cells, mask_cells = _nearest_cells(points, band_span), _nearest_cells(points, mask_span)
    if band_cells is None or mask_cells is None:
        return None
    red, nir = (_read_cells(scene, band, band_cells) for band in (scene.red, scene.nir))
    mask = _read_cells(scene, scene.mask, mask_cells)
    scale = np.float32(reflectance_scale)
    red_reflectance = red.astype(np.float32) * scale
    nir_reflectance = nir.astype(np.float32) * scale
    total = red_reflectance + nir_reflectance
    valid = scene.clear[mask] & (red != scene.red.nodata) & (nir != scene.nir.nodata) & (total > 0)
    for cells in (band_cells, mask_cells):
        if cells.inside is not None:
            valid &= cells.inside
    ndvi = np.full(red.shape, np.nan, np.float32)
    np.divide(nir_reflectance - red_reflectance, total, out=ndvi, where=valid)
    return ndvi, int(np.count_nonzero(valid))


@dataclass(frozen=True)
class _Points:
    """A block's cell centres in a scene's CRS, and the lattice nodes inside the block that they were
    interpolated from: those nodes' extremes bound every point (bilinear interpolation never leaves the
    range of its corners)."""

    x: np.ndarray
    y: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray


@dataclass(frozen=True)
class _Span:
    """The window of a raster that holds every point of a block, from the lattice alone."""

    window: tuple[int, int, int, int]
    """``(row_off, col_off, rows, cols)``."""
    inverse: Any
    """Map coordinates to the window's fractional column and row."""
    within: bool
    """Whether every point lies inside the raster, so no point needs a bounds test."""

    @property
    def cells(self) -> int:
        return self.window[2] * self.window[3]


@dataclass(frozen=True)
class _Cells:
    """Which cell of a raster holds each point of a block: the window to read and indices into it."""

    window: tuple[int, int, int, int]
    flat: np.ndarray
    """Index of each point's cell in the window read flat (clamped into the window where outside)."""
    inside: np.ndarray | None
    """Which points lie inside the raster; None when all do."""


_EDGE_MARGIN = 1e-6
"""Cells of slack around the lattice's extremes, for the rounding of the interpolation."""


def _span(dataset: Any, points: _Points) -> _Span | None:
    """The raster window under the block's points, or None when the block misses the raster."""
    inverse = ~dataset.transform
    node_col = inverse.a * points.node_x + inverse.b * points.node_y + inverse.c
    node_row = inverse.d * points.node_x + inverse.e * points.node_y + inverse.f
    low_col, high_col = node_col.min() - _EDGE_MARGIN, node_col.max() + _EDGE_MARGIN
    low_row, high_row = node_row.min() - _EDGE_MARGIN, node_row.max() + _EDGE_MARGIN
    col_off, row_off = max(math.floor(low_col), 0), max(math.floor(low_row), 0)
    cols = min(math.floor(high_col), dataset.width - 1) - col_off + 1
    rows = min(math.floor(high_row), dataset.height - 1) - row_off + 1
    if cols <= 0 or rows <= 0:
        return None
    within = low_col >= 0 and low_row >= 0 and high_col < dataset.width and high_row < dataset.height
    return _Span((row_off, col_off, rows, cols), Affine.translation(-col_off, -row_off) * inverse, within)


def _nearest_cells(points: _Points, span: _Span) -> _Cells | None:
    """The cell that contains each point (nearest-neighbour resampling), or None if no point is inside.

    When the span lies wholly inside the raster (most blocks), no point needs a bounds test and
    truncation is the floor, as every offset into the window is positive.
    """
    inverse = span.inverse
    col = inverse.a * points.x + inverse.b * points.y + inverse.c
    row = inverse.d * points.x + inverse.e * points.y + inverse.f
    rows, cols = span.window[2:]
    if span.within:
        return _Cells(span.window, row.astype(np.intp) * cols + col.astype(np.intp), None)
    col, row = np.floor(col), np.floor(row)
    inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    if not inside.any():
        return None
    flat = np.clip(row, 0, rows - 1).astype(np.intp) * cols + np.clip(col, 0, cols - 1).astype(np.intp)
    return _Cells(span.window, flat, inside)


def _read_cells(scene: _OpenScene, raster: _Raster, cells: _Cells) -> np.ndarray:
    """The raster's values at the block's points: one windowed read through the GDAL block cache."""
    from rasterio.errors import RasterioIOError
    from rasterio.windows import Window

    row_off, col_off, rows, cols = cells.window
    try:
        values = raster.dataset.read(1, window=Window(col_off, row_off, cols, rows))
    except RasterioIOError as error:
        raise SceneError(scene.item_id, f"cannot read {raster.name} ({raster.path}): {error}") from None
    return values.ravel().take(cells.flat)


def _source_points(grid: TargetGrid, window: tuple[int, int, int, int], crs: Any) -> _Points:
    """The block's cell centres in ``crs``: exact at a lattice every :func:`lattice_step` cells (and at
    the block's last row and column), bilinear in between."""
    from rasterio.warp import transform

    row_off, col_off, rows, cols = window
    step = lattice_step(grid)
    row_nodes, col_nodes = _lattice(rows, step), _lattice(cols, step)
    centre_cols, centre_rows = np.meshgrid(col_off + col_nodes + 0.5, row_off + row_nodes + 0.5)
    affine = grid.affine
    xs = affine.a * centre_cols + affine.b * centre_rows + affine.c
    ys = affine.d * centre_cols + affine.e * centre_rows + affine.f
    source_x, source_y = transform(grid.crs, crs, xs.ravel(), ys.ravel())
    node_x = np.asarray(source_x).reshape(xs.shape)
    node_y = np.asarray(source_y).reshape(ys.shape)
    inside = np.ix_(row_nodes < rows, col_nodes < cols)
    return _Points(
        x=_bilinear(node_x, row_nodes, col_nodes, rows, cols),
        y=_bilinear(node_y, row_nodes, col_nodes, rows, cols),
        node_x=node_x[inside],
        node_y=node_y[inside],
    )


def lattice_step(grid: TargetGrid) -> int:
    """Cells between exactly transformed points: :data:`LATTICE_SPAN_M` in the grid's cells, at least one."""
    return max(1, int(LATTICE_SPAN_M // grid.cell_size))


def _lattice(cells: int, step: int) -> np.ndarray:
    """Node positions along one side of a block: every ``step`` cells and the last one (a one-cell side
    gets a node one cell beyond, so there is always a span to interpolate on)."""
    return np.unique(np.r_[np.arange(0, cells, step), max(cells - 1, 1)]).astype(np.float64)


def _bilinear(
    values: np.ndarray, row_nodes: np.ndarray, col_nodes: np.ndarray, rows: int, cols: int
) -> np.ndarray:
    """``values`` known at the lattice, interpolated onto every cell of a ``rows`` x ``cols`` block."""
    row_low, row_weight = _spans(row_nodes, rows)
    col_low, col_weight = _spans(col_nodes, cols)
    along_cols = values[:, col_low] * (1 - col_weight) + values[:, col_low + 1] * col_weight
    return along_cols[row_low] * (1 - row_weight)[:, None] + along_cols[row_low + 1] * row_weight[:, None]


def _spans(nodes: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """For each cell position, the lattice span it lies in and its weight towards the span's end."""
    positions = np.arange(cells, dtype=np.float64)
    low = np.clip(np.searchsorted(nodes, positions, side="right") - 1, 0, len(nodes) - 2)
    return low, (positions - nodes[low]) / (nodes[low + 1] - nodes[low])


def median_and_count(observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel median and count of the non-NaN values of a stack ``(n, rows, cols)``; the median is
    :data:`NODATA` where the count is 0.

    ``np.nanmedian`` is several times slower on the short stacks of a month's scenes. NaN becomes +inf
    so a sort puts the observations first; up to :data:`SORTING_NETWORK_MAX` layers, an odd-even
    transposition network of elementwise min/max sorts faster than ``np.sort``.
    """
    ordered = np.where(np.isnan(observations), np.float32(np.inf), observations)
    layers = ordered.shape[0]
    if layers <= SORTING_NETWORK_MAX:
        for step in range(layers):
            for low in range(step % 2, layers - 1, 2):
                smaller = np.minimum(ordered[low], ordered[low + 1])
                np.maximum(ordered[low], ordered[low + 1], out=ordered[low + 1])
                ordered[low] = smaller
    else:
        ordered.sort(axis=0)
    count = np.isfinite(ordered).sum(axis=0)
    lower = np.maximum((count - 1) // 2, 0)[None]
    upper = np.minimum(count // 2, layers - 1)[None]
    median = (np.take_along_axis(ordered, lower, 0)[0] + np.take_along_axis(ordered, upper, 0)[0]) / 2
    median[count == 0] = NODATA
    return median.astype(np.float32, copy=False), count


@dataclass
class _Tally:
    """Running totals over the blocks, for the summary."""

    observations: dict[str, int]
    valid_pixels: int = 0
    ndvi_sum: float = 0.0
    ndvi_min: float = math.inf
    ndvi_max: float = -math.inf

    def add(self, median: np.ndarray, count: np.ndarray) -> None:
        values = median[count > 0]
        if values.size:
            self.valid_pixels += values.size
            self.ndvi_sum += float(values.sum(dtype=np.float64))
            self.ndvi_min = min(self.ndvi_min, float(values.min()))
            self.ndvi_max = max(self.ndvi_max, float(values.max()))

    def summary(self, pixels: int, skipped: dict[str, str]) -> CompositeSummary:
        valid = self.valid_pixels > 0
        return CompositeSummary(
            pixels=pixels,
            valid_pixels=self.valid_pixels,
            valid_fraction=self.valid_pixels / pixels,
            ndvi_min=self.ndvi_min if valid else None,
            ndvi_max=self.ndvi_max if valid else None,
            ndvi_mean=self.ndvi_sum / self.valid_pixels if valid else None,
            observations=dict(self.observations),
            skipped=skipped,
        )
