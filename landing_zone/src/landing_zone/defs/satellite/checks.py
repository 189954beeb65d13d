"""Asset checks of the satellite domain, run in the asset's own step on the candidate before it is
published (write-audit-publish, :mod:`shared.publication`), with the values found as metadata.

- ``satellite/scenes``: ``stored_scenes_match_manifest`` (blocking) reads back every object the
  candidate manifest lists and compares its size and SHA-256 with the manifest's, and a band's CRS, shape
  and transform with what the catalogue declares: an object damaged or replaced in storage, or one
  written off its grid, fails it before the manifest is published. The metadata names the mismatching
  keys and lists the scenes skipped before storing (with why).
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
from landing_zone.defs.satellite.raw_scenes import SKIPPED, stored_mismatches
from shared.storage import Storage

WARN = dg.AssetCheckSeverity.WARN

DEFAULT_MIN_VALID_FRACTION = 0.5
"""Share of the region a month's composite should cover with clear observations. Below half, a
catchment's monthly mean NDVI would rest on a minority of its area (and on whichever part happened to be
clear), so the month is flagged for whoever reads the vegetation attributes."""

STORED_SCENES_CHECK = "stored_scenes_match_manifest"

NDVI_RANGE = (-1.0, 1.0)
"""NDVI is a normalised difference: no value outside [-1, 1] comes from real reflectances."""


def scenes_check_specs() -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            STORED_SCENES_CHECK,
            asset=SATELLITE_SCENES,
            blocking=True,
            partitions_def=SATELLITE_PARTITIONS,
            description="Every object the manifest lists is in storage with the size and SHA-256 the "
            "manifest records, and every band file has the CRS, shape and transform its STAC item declares "
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
    """``stored_scenes_match_manifest`` on the stored objects the candidate manifest lists."""
    mismatches = stored_mismatches(store, table)
    skipped = table.filter(pl.col("status") == SKIPPED).select("item_id", "reason").unique().sort("item_id")
    return dg.AssetCheckResult(
        check_name=STORED_SCENES_CHECK,
        asset_key=SATELLITE_SCENES,
        passed=not mismatches,
        metadata={
            "mismatches": dg.MetadataValue.json(mismatches),
            "checked_objects": dg.MetadataValue.int(table.filter(pl.col("status") != SKIPPED).height),
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
    """NDVI extremes and pixel counts, one block in memory at a time: band 1's valid pixels, and the
    region's pixels, which are all of the grid's (it is the region's extent; band 2 is 0 there, not
    nodata, where no clear observation exists)."""
    import rasterio

    low, high, count, non_finite, region = np.inf, -np.inf, 0, 0, 0
    with rasterio.open(cog) as dataset:
        for _, window in dataset.block_windows(1):
            values = dataset.read(1, window=window, masked=True).compressed()
            finite = values[np.isfinite(values)]
            non_finite += values.size - finite.size
            count += finite.size
            region += window.width * window.height
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
