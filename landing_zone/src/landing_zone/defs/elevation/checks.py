"""Asset checks of the elevation pipeline, with structured metadata; those guarding catchments block.

Converted tiles are checked in DuckDB over their statistics table (valid COG, CRS and resolution, nodata
fraction, plausible values, skipped tiles). The consolidated COG is checked by reading it block-wise:
strict COG layout, coverage of the region without gaps, and systematic steps across tile edges (a tile
from a biased survey shows up as an offset along its edges). Both run inside their asset's step on the
candidate, before it is published (write-audit-publish, :mod:`shared.publication`).
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np

from shared.assets.landing_zone import REGIONS
from shared.resources.duckdb_checks import SqlCheck

if TYPE_CHECKING:
    from landing_zone.defs.elevation.definitions import ElevationPipeline

WARN = dg.AssetCheckSeverity.WARN


def converted_sql_checks(pipeline: "ElevationPipeline") -> list[SqlCheck]:
    converted = "status IN ('converted', 'kept')"
    return [
        SqlCheck(
            name="valid_cog",
            blocking=True,
            description="Every converted tile passes strict COG validation.",
            sql=f"SELECT tile_id FROM {{table}} WHERE {converted} AND NOT is_cog",
        ),
        SqlCheck(
            name="crs_and_resolution",
            blocking=True,
            description="CRS and cell size as configured.",
            sql=f"SELECT tile_id, crs, cell_size FROM {{table}} WHERE {converted} AND "
            f"(crs <> '{pipeline.crs}' OR abs(cell_size - {pipeline.cell_size}) > 1e-9)",
        ),
        SqlCheck(
            name="nodata_fraction",
            blocking=True,
            description=f"At most {pipeline.max_nodata_fraction:.0%} nodata per tile after gap filling.",
            sql=f"SELECT tile_id, nodata_fraction FROM {{table}} WHERE {converted} AND "
            f"nodata_fraction > {pipeline.max_nodata_fraction}",
        ),
        SqlCheck(
            name="plausible_values",
            blocking=True,
            description=f"Elevations within {pipeline.plausible_min_m}..{pipeline.plausible_max_m} m.",
            sql=f"SELECT tile_id, min_m, max_m FROM {{table}} WHERE {converted} AND "
            f"(min_m < {pipeline.plausible_min_m} OR max_m > {pipeline.plausible_max_m})",
        ),
        SqlCheck(
            name="skipped_tiles",
            severity=WARN,
            description="Tiles that could not be downloaded or converted, with why; 'kept' ones keep their "
            "last published version.",
            sql="SELECT tile_id, status, reason FROM {table} WHERE status IN ('skipped', 'kept')",
        ),
    ]


def consolidated_check_specs(pipeline: "ElevationPipeline") -> list[dg.AssetCheckSpec]:
    key = pipeline.key("consolidated")
    return [
        dg.AssetCheckSpec(
            "valid_cog",
            asset=key,
            blocking=True,
            partitions_def=REGIONS,
            description="Strict COG validation (rio-cogeo).",
        ),
        dg.AssetCheckSpec(
            "coverage",
            asset=key,
            blocking=True,
            partitions_def=REGIONS,
            description="The mosaic covers its extent without nodata gaps.",
        ),
        dg.AssetCheckSpec(
            "seam_offsets",
            asset=key,
            blocking=True,
            partitions_def=REGIONS,
            description=f"No systematic step over {pipeline.max_seam_offset_m} m across tile edges.",
        ),
    ]


def audit_consolidated(
    cog: Path, key: dg.AssetKey, pipeline: "ElevationPipeline"
) -> list[dg.AssetCheckResult]:
    """The consolidated checks on the local candidate COG, read block-wise."""
    import rasterio
    from rio_cogeo.cogeo import cog_validate

    is_cog, errors, warnings = cog_validate(str(cog), strict=True)
    results = [
        dg.AssetCheckResult(
            check_name="valid_cog",
            asset_key=key,
            passed=bool(is_cog),
            metadata={"errors": errors, "warnings": warnings},
        )
    ]
    with rasterio.open(cog) as dataset:
        results.append(_coverage(dataset, key))
        results.append(_seams(dataset, key, round(1000.0 / pipeline.cell_size), pipeline.max_seam_offset_m))
    return results


def _coverage(dataset: Any, key: dg.AssetKey) -> dg.AssetCheckResult:
    """Count nodata cells block by block (memory stays one block)."""
    missing = 0
    for _, window in dataset.block_windows(1):
        missing += int(np.ma.getmaskarray(dataset.read(1, window=window, masked=True)).sum())
    total = dataset.width * dataset.height
    return dg.AssetCheckResult(
        check_name="coverage",
        asset_key=key,
        passed=missing == 0,
        metadata={"nodata_cells": missing, "nodata_fraction": missing / total, "cells": total},
    )


def _seams(dataset: Any, key: dg.AssetKey, tile_cells: int, threshold: float) -> dg.AssetCheckResult:
    """Median step across each tile edge, beyond the local slope on either side of it."""
    from rasterio.windows import Window

    offsets: list[dict[str, Any]] = []
    for axis, length, extent in (("x", dataset.width, dataset.height), ("y", dataset.height, dataset.width)):
        for edge in range(tile_cells, length - 1, tile_cells):
            window = Window(edge - 2, 0, 4, extent) if axis == "x" else Window(0, edge - 2, extent, 4)
            strip = dataset.read(1, window=window, masked=True).astype(np.float64)
            strip = strip if axis == "x" else strip.T  # columns across the edge: c0 c1 | c2 c3
            offsets += _edge_offsets(strip, axis, edge, tile_cells)
    worst = max(offsets, key=lambda o: abs(o["offset_m"]), default={"offset_m": 0.0})
    bad = [o for o in offsets if abs(o["offset_m"]) > threshold]
    return dg.AssetCheckResult(
        check_name="seam_offsets",
        asset_key=key,
        passed=not bad,
        metadata={
            "edges_checked": len(offsets),
            "max_offset_m": round(abs(worst["offset_m"]), 4),
            "offending_edges": bad[:50],
            "threshold_m": threshold,
        },
    )


# The annotation is a string: evaluated, it would import numpy.ma (about 20 ms) at every load of the code
# location, for a helper that only the consolidated asset's step calls.
def _edge_offsets(strip: "np.ma.MaskedArray", axis: str, edge: int, tile_cells: int) -> list[dict[str, Any]]:
    step = strip[:, 2] - strip[:, 1]
    slope = ((strip[:, 1] - strip[:, 0]) + (strip[:, 3] - strip[:, 2])) / 2
    excess = (step - slope).filled(np.nan)
    results = []
    for start in range(0, len(excess), tile_cells):
        segment = excess[start : start + tile_cells]
        segment = segment[np.isfinite(segment)]
        if segment.size > tile_cells // 4:
            results.append(
                {"axis": axis, "edge": edge, "from": start, "offset_m": round(float(np.median(segment)), 4)}
            )
    return results
