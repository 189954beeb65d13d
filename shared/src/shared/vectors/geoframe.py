"""A vector layer as the platform passes it around: a polars frame with a WKB geometry column and a CRS.

Keeping geometries as WKB in a polars frame means attribute work stays in polars, the Parquet writer
stores them as they are (GeoParquet's native encoding), and shapely turns them into objects only where
geometry work happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import polars as pl

GEOMETRY = "geometry"


class GeometryColumnError(ValueError):
    """The frame has no WKB geometry column, or the CRS is missing."""


@dataclass(frozen=True)
class GeoFrame:
    """Attributes plus ``geometry`` (WKB, one row per feature) in ``crs`` (e.g. ``EPSG:2180``)."""

    frame: pl.DataFrame
    crs: str

    def __post_init__(self) -> None:
        if GEOMETRY not in self.frame.columns or self.frame.schema[GEOMETRY] != pl.Binary:
            raise GeometryColumnError(f"a GeoFrame needs a binary (WKB) column {GEOMETRY!r}")
        if not self.crs:
            raise GeometryColumnError("a GeoFrame needs a CRS")

    @classmethod
    def from_geometries(cls, attributes: pl.DataFrame, geometries: Sequence[Any], crs: str) -> GeoFrame:
        """Attach shapely geometries (one per row of ``attributes``) as WKB."""
        import shapely

        if len(geometries) != attributes.height:
            raise GeometryColumnError(f"{len(geometries)} geometries for {attributes.height} rows")
        wkb = shapely.to_wkb(list(geometries))
        return cls(attributes.with_columns(pl.Series(GEOMETRY, list(wkb), dtype=pl.Binary)), crs)

    def geometries(self) -> Any:
        """The geometries as a numpy array of shapely objects (decoded once per GeoFrame)."""
        return self._shapes

    @cached_property
    def _shapes(self) -> Any:
        import shapely

        return shapely.from_wkb(self.frame[GEOMETRY].to_numpy())

    @property
    def attributes(self) -> pl.DataFrame:
        return self.frame.drop(GEOMETRY)

    def geometry_types(self) -> list[str]:
        """Distinct geometry types, as GeoParquet's metadata lists them (null geometries have none)."""
        return sorted({geometry.geom_type for geometry in self.geometries() if geometry is not None})

    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of all features."""
        import shapely

        west, south, east, north = shapely.total_bounds(self.geometries()).tolist()
        return (west, south, east, north)
