"""Asset checks of the satellite domain, run in the asset's own step on the candidate before it is
published (write-audit-publish, :mod:`shared.publication`), with the values found as metadata.

- ``satellite/scenes``: ``scene_grid_matches_catalogue`` (blocking) re-reads the header of every stored
  copy and compares its CRS, shape and transform with what the catalogue declares; the metadata lists
  the mismatches and the scenes skipped before storing (with why).
- ``satellite/ndvi``: ``ndvi_within_range`` (blocking) reads the candidate COG block by block and finds
  its NDVI minimum and maximum, which must lie in [-1, 1]; ``valid_fraction_above_threshold`` (a warning)
  compares the share of the region with at least one clear observation with a threshold: a cloudy month
  is a fact about the sky, not a defect, so it is flagged and still published.
"""

from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import polars as pl

from landing_zone.defs.satellite.keys import SATELLITE_NDVI, SATELLITE_PARTITIONS, SATELLITE_SCENES
from landing_zone.defs.satellite.raw_scenes import ITEM, SKIPPED, stored_grid_mismatches
from shared.storage import Storage

WARN = dg.AssetCheckSeverity.WARN

DEFAULT_MIN_VALID_FRACTION = 0.5
"""Share of the region a month's composite should cover with clear observations. Below half, a
catchment's monthly mean NDVI would rest on a minority of its area (and on whichever part happened to be
clear), so the month is flagged for whoever reads the vegetation attributes."""

NDVI_RANGE = (-1.0, 1.0)
"""NDVI is a normalised difference: no value outside [-1, 1] comes from real reflectances."""


def scenes_check_specs() -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "scene_grid_matches_catalogue",
            asset=SATELLITE_SCENES,
            blocking=True,
            partitions_def=SATELLITE_PARTITIONS,
            description="Every stored band file has the CRS, shape and transform its STAC item declares "
            "(proj:code, proj:shape, proj:transform); scenes skipped before storing are listed with why.",
        )
    ]


def ndvi_check_specs(min_valid_fraction: float = DEFAULT_MIN_VALID_FRACTION) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "ndvi_within_range",
            asset=SATELLITE_NDVI,
            blocking=True,
            partitions_def=SATELLITE_PARTITIONS,
            description="Every NDVI value of the composite lies within [-1, 1] (minimum and maximum found "
            "in the metadata).",
        ),
        dg.AssetCheckSpec(
            "valid_fraction_above_threshold",
            asset=SATELLITE_NDVI,
            blocking=False,
            partitions_def=SATELLITE_PARTITIONS,
            description=f"At least {min_valid_fraction:.0%} of the region (default; run config "
            "min_valid_fraction) has a clear observation; a warning below it.",
        ),
    ]


def audit_scenes(store: Storage, table: pl.DataFrame) -> dg.AssetCheckResult:
    """``scene_grid_matches_catalogue`` on the stored copies the candidate manifest lists."""
    mismatches = stored_grid_mismatches(store, table, store.gdal_options())
    skipped = table.filter(pl.col("status") == SKIPPED).select("item_id", "reason").unique().sort("item_id")
    return dg.AssetCheckResult(
        check_name="scene_grid_matches_catalogue",
        asset_key=SATELLITE_SCENES,
        passed=not mismatches,
        metadata={
            "mismatches": dg.MetadataValue.json(mismatches),
            "checked_files": dg.MetadataValue.int(
                table.filter((pl.col("status") != SKIPPED) & (pl.col("band") != ITEM)).height
            ),
            "skipped_scenes": dg.MetadataValue.json(dict(skipped.iter_rows())),
        },
    )


def audit_ndvi(cog: Path, min_valid_fraction: float) -> list[dg.AssetCheckResult]:
    """Both NDVI checks from one block-wise pass over the candidate COG."""
    found = ndvi_statistics(cog)
    low, high = NDVI_RANGE
    in_range = found["non_finite"] == 0 and (
        found["valid_pixels"] == 0 or (low <= found["ndvi_min"] and found["ndvi_max"] <= high)
    )
    fraction = found["valid_pixels"] / found["region_pixels"] if found["region_pixels"] else 0.0
    return [
        dg.AssetCheckResult(
            check_name="ndvi_within_range",
            asset_key=SATELLITE_NDVI,
            passed=bool(in_range),
            metadata={
                "ndvi_min": _value(found["ndvi_min"]),
                "ndvi_max": _value(found["ndvi_max"]),
                "non_finite_pixels": dg.MetadataValue.int(found["non_finite"]),
                "allowed_range": dg.MetadataValue.json(list(NDVI_RANGE)),
            },
        ),
        dg.AssetCheckResult(
            check_name="valid_fraction_above_threshold",
            asset_key=SATELLITE_NDVI,
            passed=fraction >= min_valid_fraction,
            severity=WARN,
            metadata={
                "valid_fraction": dg.MetadataValue.float(round(fraction, 4)),
                "threshold": dg.MetadataValue.float(min_valid_fraction),
                "valid_pixels": dg.MetadataValue.int(found["valid_pixels"]),
                "region_pixels": dg.MetadataValue.int(found["region_pixels"]),
            },
        ),
    ]


def ndvi_statistics(cog: Path) -> dict[str, Any]:
    """NDVI extremes and pixel counts, one block in memory at a time: band 1's valid pixels, band 2's
    pixels inside the region (its nodata marks only what lies outside)."""
    import rasterio

    low, high, count, non_finite, region = np.inf, -np.inf, 0, 0, 0
    with rasterio.open(cog) as dataset:
        for _, window in dataset.block_windows(1):
            ndvi = dataset.read(1, window=window, masked=True)
            inside = ~np.ma.getmaskarray(dataset.read(2, window=window, masked=True))
            values = ndvi.compressed()
            finite = values[np.isfinite(values)]
            non_finite += values.size - finite.size
            count += finite.size
            region += int(inside.sum())
            if finite.size:
                low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    return {
        "ndvi_min": low if count else None,
        "ndvi_max": high if count else None,
        "valid_pixels": count,
        "non_finite": non_finite,
        "region_pixels": region,
    }


def _value(value: float | None) -> Any:
    """A statistic as metadata; ``none`` where the composite has no valid pixel."""
    return dg.MetadataValue.text("none") if value is None else dg.MetadataValue.float(round(value, 6))
