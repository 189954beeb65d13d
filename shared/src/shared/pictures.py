"""Small PNG pictures of stored data, for materialisation metadata: where people would rather look than read.

Every picture is at most :data:`MAX_SIDE_PX` on its long side and :data:`MAX_PNG_BYTES` encoded, so it
can be embedded in the event log as a data URI (:mod:`shared.picture_metadata`). Rasters are read
decimated (``out_shape``: GDAL serves it from the COG's overviews), never whole. matplotlib draws
through a bare ``Figure`` on the Agg canvas (no pyplot: no global state, no display); it, numpy and
rasterio are imported inside the functions, so importing this module costs nothing at definition time.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import polars as pl
    from matplotlib.figure import Figure

MAX_SIDE_PX = 512
"""Long side of every picture, in pixels."""
MAX_PNG_BYTES = 300_000
"""Upper bound of an encoded picture: a few of them per event stay well inside the event log."""
DPI = 100
MAX_SERIES_PANELS = 3
"""Series (station and variable) per picture: more would be too small to read at :data:`MAX_SIDE_PX`."""

SUN_AZIMUTH_DEG = 315.0
SUN_ALTITUDE_DEG = 45.0


class PictureTooLargeError(ValueError):
    """A rendered picture exceeded :data:`MAX_PNG_BYTES`."""


def hillshade_png(path: str, gdal_options: Mapping[str, str] | None = None) -> bytes:
    """Horn hillshade of a raster's first band, read decimated to at most :data:`MAX_SIDE_PX` a side.

    ``path`` is anything rasterio opens (a file, ``/vsis3/...``); ``gdal_options`` the GDAL
    configuration to open it with (S3 endpoint, credentials). Nodata cells are transparent. The slope
    uses the decimated cell size, so relief reads the same at every zoom.
    """
    import numpy as np
    import rasterio
    from rasterio.enums import Resampling

    with rasterio.Env(**dict(gdal_options or {})), rasterio.open(path) as source:
        scale = max(source.width, source.height) / MAX_SIDE_PX
        shape = (max(1, round(source.height / max(scale, 1))), max(1, round(source.width / max(scale, 1))))
        band = source.read(1, out_shape=shape, masked=True, resampling=Resampling.bilinear)
        cell_x = abs(source.transform.a) * source.width / shape[1]
        cell_y = abs(source.transform.e) * source.height / shape[0]
    elevation = band.astype("float32").filled(np.nan)  # float32: the shade needs no more
    shade = stretched(horn_hillshade(elevation, cell_x, cell_y))
    rgba = np.empty((*shade.shape, 4), dtype="float32")
    rgba[..., :3] = np.nan_to_num(shade)[..., None]
    rgba[..., 3] = np.isfinite(shade)
    return _encode_image(rgba)


def horn_hillshade(elevation: np.ndarray, cell_x: float, cell_y: float) -> np.ndarray:
    """Horn's (1981) 3x3 hillshade in [0, 1], NaN where the window touches nodata (NaN); the raster's
    edge is extended by its border cells, so the outer row keeps a shade."""
    import numpy as np

    z = np.pad(elevation, 1, mode="edge")
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dz_dx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * cell_x)
    dz_dy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * cell_y)
    slope = np.arctan(np.hypot(dz_dx, dz_dy))
    aspect = np.arctan2(dz_dy, -dz_dx)
    zenith = np.radians(90.0 - SUN_ALTITUDE_DEG)
    azimuth = np.radians(360.0 - SUN_AZIMUTH_DEG + 90.0)
    shade = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(azimuth - aspect)
    return np.clip(shade, 0.0, 1.0)


def stretched(shade: np.ndarray) -> np.ndarray:
    """The shade's 2nd to 98th percentile spread over [0, 1]: gentle terrain seen from a thumbnail's
    coarse cells would otherwise be an even grey."""
    import numpy as np

    finite = shade[np.isfinite(shade)]
    if finite.size == 0:
        return shade
    low, high = np.percentile(finite, [2, 98])
    return np.clip((shade - low) / max(high - low, 1e-6), 0.0, 1.0)


def catchments_png(reach: Sequence[Any], progressive: Sequence[Any] | None = None) -> bytes:
    """Reach catchment outlines over the progressive catchments filled by area (log scale: upstream
    areas span orders of magnitude, large basins drawn first so nested ones show), from shapely
    (multi)polygons. Outlines are simplified to one pixel of the picture, which keeps it fast."""
    import numpy as np
    import shapely
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.colors import LogNorm

    progressive = [] if progressive is None else list(progressive)
    figure = _figure(1.0)
    axes = figure.add_subplot()
    bounds = shapely.total_bounds(np.asarray([*reach, *progressive], dtype=object))
    pixel = max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / MAX_SIDE_PX
    if progressive:
        shapes = sorted(progressive, key=lambda shape: -shape.area)
        areas = np.clip([shape.area for shape in shapes], 1e-12, None)
        rings = [_exteriors(shapely.simplify(shape, pixel)) for shape in shapes]
        fills = PolyCollection(
            [ring for parts in rings for ring in parts],
            cmap="Blues",
            norm=LogNorm(areas.min(), max(areas.max(), areas.min() * 1.01)),
        )
        fills.set_array(np.repeat(areas, [len(parts) for parts in rings]))
        fills.set(alpha=0.7, linewidth=0)
        axes.add_collection(fills)
    outlines = [ring for shape in reach for ring in _exteriors(shapely.simplify(shape, pixel))]
    axes.add_collection(LineCollection(outlines, colors="0.15", linewidths=0.4))
    axes.set_xlim(bounds[0], bounds[2])
    axes.set_ylim(bounds[1], bounds[3])
    axes.set_aspect("equal")
    axes.set_axis_off()
    title = f"{len(reach)} reach catchments"
    axes.set_title(title if not progressive else f"{title}; progressive catchments by area", fontsize=8)
    figure.tight_layout()
    return _encode(figure)


def _exteriors(shape: Any) -> list[Any]:
    """Exterior rings of a polygon or multipolygon as coordinate arrays."""
    import numpy as np

    parts = getattr(shape, "geoms", [shape])
    return [np.asarray(part.exterior.coords) for part in parts if not part.is_empty]


def series_png(series: pl.DataFrame, ok_flag: str = "ok") -> bytes:
    """Raw vs polished values of the most flagged series, one panel each (at most
    :data:`MAX_SERIES_PANELS`), every flagged value marked by its flag kind.

    ``series`` is long: ``station``, ``variable``, ``time``, ``raw_value``, ``value`` and ``flag``
    (``ok_flag`` for an unflagged value), as the polished station series store it.
    """
    import polars as pl

    panels = most_flagged(series, ok_flag)
    kinds = sorted(series.filter(pl.col("flag") != ok_flag)["flag"].unique().to_list())
    markers = dict(zip(kinds, "ox^sdv*P", strict=False))
    figure = _figure(0.3 * max(1, panels.height) + 0.1)
    for index, (station, variable, _) in enumerate(panels.iter_rows()):
        axes = figure.add_subplot(panels.height, 1, index + 1)
        own = series.filter(pl.col("station") == station, pl.col("variable") == variable).sort("time")
        axes.plot(own["time"], own["raw_value"], color="0.6", linewidth=0.7, label="raw")
        axes.plot(own["time"], own["value"], color="tab:blue", linewidth=0.9, label="polished")
        for kind in kinds:
            points = own.filter(pl.col("flag") == kind)
            values = points["raw_value"].fill_null(points["value"])
            if points.height:
                axes.scatter(points["time"], values, s=10, marker=markers[kind], label=kind, zorder=3)
        axes.set_title(f"{station} {variable}", fontsize=7)
        axes.tick_params(labelsize=6)
        axes.legend(fontsize=5, loc="upper left", frameon=False, ncols=6)
    figure.tight_layout()
    return _encode(figure)


def most_flagged(series: pl.DataFrame, ok_flag: str = "ok") -> pl.DataFrame:
    """``station``, ``variable`` and ``flagged`` (count) of the :data:`MAX_SERIES_PANELS` series with
    the most flagged values: where a reviewer looks first."""
    import polars as pl

    return (
        series.group_by("station", "variable")
        .agg(flagged=(pl.col("flag") != ok_flag).sum())
        .sort("flagged", "station", "variable", descending=[True, False, False])
        .head(MAX_SERIES_PANELS)
    )


def hydrograph_png(
    dates: Sequence[Any],
    observed: Sequence[float] | np.ndarray,
    simulated: Mapping[str, Sequence[float] | np.ndarray],
    title: str,
    unit: str = "m³/s",
) -> bytes:
    """Observed discharge against one or more simulated or forecast series (NaN leaves a gap)."""
    figure = _figure(0.45)
    axes = figure.add_subplot()
    axes.plot(dates, observed, color="black", linewidth=0.9, label="observed")
    for label, series in simulated.items():
        axes.plot(dates, series, linewidth=0.9, marker=".", markersize=3, label=label)  # marked: sparse
    axes.set_title(title, fontsize=8)
    axes.set_ylabel(f"discharge ({unit})", fontsize=7)
    axes.tick_params(labelsize=6)
    axes.legend(fontsize=6, loc="upper left", frameon=False, ncols=4)
    figure.tight_layout()
    return _encode(figure)


def _figure(aspect: float) -> Figure:
    """A figure :data:`MAX_SIDE_PX` wide and ``aspect`` times as high (capped at square)."""
    from matplotlib.figure import Figure

    side = MAX_SIDE_PX / DPI
    return Figure(figsize=(side, side * min(aspect, 1.0)), dpi=DPI)


def _encode(figure: Figure) -> bytes:
    """PNG bytes of the figure through the Agg canvas, checked against :data:`MAX_PNG_BYTES`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return _bounded(buffer.getvalue())


def _encode_image(rgba: np.ndarray) -> bytes:
    """PNG bytes of an RGBA array in [0, 1], pixel for pixel (no axes)."""
    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, rgba, format="png")
    return _bounded(buffer.getvalue())


def _bounded(png: bytes) -> bytes:
    if len(png) > MAX_PNG_BYTES:
        raise PictureTooLargeError(f"picture of {len(png)} bytes exceeds the {MAX_PNG_BYTES} byte bound")
    return png
