"""Blocking checks of the reach network: bad topology or catchments must not reach features or models.

Each check runs in its asset's own step on the candidate layer, before the IO manager publishes it
(write-audit-publish, :mod:`shared.publication`): a layer that fails a blocking check never replaces the
published one that analysts open and downstream assets read. Reaches and progressive catchments are
checked in DuckDB SQL over the candidate's attribute table (recursive queries walk the topology). Reach
catchments need geometry and the flow directions, so they are checked in Python: one catchment per reach,
overlap, and their union against the basin the D8 directions drain to the outlets.
"""

from collections.abc import Iterator

import dagster as dg
import numpy as np
import polars as pl

from landing_zone.defs.catchments.keys import catchment_key
from shared.assets.landing_zone import (
    CATCHMENT_PARTITIONS,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
)
from shared.resources.duckdb_checks import SqlCheck
from shared.vectors.geoframe import GeoFrame

MAX_OVERLAP_FRACTION = 0.0001
"""Reach catchments may overlap by at most 0.01 % of the basin (polygon tracing noise, not real overlap)."""

MAX_UNION_DEVIATION = 0.005
"""The union of reach catchments must equal the basin within 0.5 %."""

REACH_CHECKS = [
    SqlCheck(
        name="links_resolve",
        blocking=True,
        description="Every downstream link names an existing reach.",
        sql="SELECT reach_id, downstream_id FROM {table} WHERE downstream_id IS NOT NULL "
        "AND downstream_id NOT IN (SELECT reach_id FROM {table})",
    ),
    SqlCheck(
        name="acyclic",
        blocking=True,
        description="Following downstream links from any reach never comes back to it.",
        sql="""
        WITH RECURSIVE size AS (SELECT count(*) AS reaches FROM {table}),
        walk(start_id, at_id, steps) AS (
            SELECT reach_id, downstream_id, 1 FROM {table} WHERE downstream_id IS NOT NULL
            UNION ALL
            SELECT walk.start_id, t.downstream_id, walk.steps + 1
            FROM walk JOIN {table} t ON t.reach_id = walk.at_id, size
            WHERE t.downstream_id IS NOT NULL AND walk.at_id <> walk.start_id AND walk.steps <= size.reaches
        )
        SELECT DISTINCT start_id AS reach_id FROM walk WHERE at_id = start_id ORDER BY reach_id
        """,
    ),
    SqlCheck(
        name="has_outlet",
        blocking=True,
        description="The network drains somewhere: at least one reach has no downstream reach.",
        sql="SELECT 'no reach without a downstream reach' AS problem "
        "WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE downstream_id IS NULL)",
    ),
    SqlCheck(
        name="reach_lengths",
        severity=dg.AssetCheckSeverity.WARN,
        description="Reaches between half and one and a half times the median reach length (the length "
        "follows the analysis cell size; a river shorter than that is one short reach, and a reach that "
        "absorbed a neighbour without a pour cell is longer).",
        sql="""
        WITH split AS (
            SELECT * FROM {table}
            WHERE river_id IN (SELECT river_id FROM {table} GROUP BY river_id HAVING count(*) > 1)
        ),
        typical AS (SELECT median(length_m) AS median_m FROM split)
        SELECT reach_id, length_m, typical.median_m FROM split, typical
        WHERE merged_reaches IS NULL
        AND length_m NOT BETWEEN 0.5 * typical.median_m AND 1.5 * typical.median_m
        """,
    ),
]
REACH_CHECK_SPECS = [check.spec(REACHES, CATCHMENT_PARTITIONS) for check in REACH_CHECKS]

PROGRESSIVE_CHECKS = [
    SqlCheck(
        name="equals_sum_of_upstream",
        blocking=True,
        description="Each progressive area is the sum of the reach catchments at and above the reach.",
        sql="""
        WITH RECURSIVE upstream(root_id, reach_id) AS (
            SELECT reach_id, reach_id FROM {table}
            UNION
            SELECT upstream.root_id, t.reach_id
            FROM upstream JOIN {table} t ON t.downstream_id = upstream.reach_id
        ),
        sums AS (
            SELECT root_id, sum(t.reach_area_km2) AS summed_km2
            FROM upstream JOIN {table} t ON t.reach_id = upstream.reach_id GROUP BY root_id
        )
        SELECT p.reach_id, p.progressive_area_km2, sums.summed_km2
        FROM {table} p JOIN sums ON sums.root_id = p.reach_id
        WHERE abs(p.progressive_area_km2 - sums.summed_km2) > 1e-9 + 1e-9 * sums.summed_km2
        """,
    ),
    SqlCheck(
        name="agrees_with_d8_accumulation",
        blocking=True,
        description="Each progressive area equals the D8 upstream area at the reach's pour cell (0.01 %): "
        "the topology (which reach a tributary joins) agrees with where the terrain sends the water.",
        sql="SELECT reach_id, progressive_area_km2, upstream_area_km2 FROM {table} "
        "WHERE upstream_area_km2 IS NULL "
        "OR abs(progressive_area_km2 - upstream_area_km2) > 1e-6 + 1e-4 * upstream_area_km2",
    ),
    SqlCheck(
        name="never_shrinks_downstream",
        blocking=True,
        description="A reach's progressive area is at least that of every reach draining into it.",
        sql="SELECT up.reach_id, up.progressive_area_km2, down.reach_id AS downstream_id, "
        "down.progressive_area_km2 AS downstream_area_km2 FROM {table} up JOIN {table} down "
        "ON up.downstream_id = down.reach_id WHERE down.progressive_area_km2 < up.progressive_area_km2",
    ),
]
PROGRESSIVE_CHECK_SPECS = [
    check.spec(PROGRESSIVE_CATCHMENTS, CATCHMENT_PARTITIONS) for check in PROGRESSIVE_CHECKS
]

CATCHMENT_CHECK_SPECS = [
    dg.AssetCheckSpec(
        name,
        asset=REACH_CATCHMENTS,
        blocking=True,
        partitions_def=CATCHMENT_PARTITIONS,
        description=description,
    )
    for name, description in (
        ("one_catchment_per_reach", "Every reach has exactly one catchment, with at least one cell."),
        ("no_overlap", f"Reach catchments overlap by at most {MAX_OVERLAP_FRACTION:.2%} of the basin."),
        ("union_equals_basin", f"Their union is the outlets' D8 basin within {MAX_UNION_DEVIATION:.1%}."),
    )
]


def audit_reach_catchments(
    reaches: GeoFrame, catchments: GeoFrame, basin_km2: float
) -> list[dg.AssetCheckResult]:
    """The reach-catchment checks on a candidate layer, against its reaches and the outlets' D8 basin."""
    return [_one_per_reach(reaches.frame, catchments.frame), *_coverage_results(catchments, basin_km2)]


def _one_per_reach(reaches: pl.DataFrame, catchments: pl.DataFrame) -> dg.AssetCheckResult:
    """A reach without a catchment (or with an empty one) would vanish from the features silently."""
    counts = catchments.group_by("reach_id").agg(pl.len().alias("catchments"), pl.col("cells").sum())
    joined = reaches.select("reach_id").join(counts, on="reach_id", how="full", coalesce=True)
    bad = joined.filter(
        pl.col("catchments").is_null() | (pl.col("catchments") != 1) | (pl.col("cells") == 0)
    ).fill_null(0)
    return dg.AssetCheckResult(
        check_name="one_catchment_per_reach",
        asset_key=REACH_CATCHMENTS,
        passed=bad.is_empty(),
        metadata={"offending_reaches": bad.height, "offending_values": bad.head(20).to_dicts()},
    )


def _coverage_results(catchments: GeoFrame, basin_km2: float) -> Iterator[dg.AssetCheckResult]:
    """Overlap double-counts water and a union short of the basin loses it: both bias every feature."""
    import shapely

    shapes = catchments.geometries()
    summed = float(shapely.area(shapes).sum()) / 1e6
    union = float(shapely.union_all(shapes).area) / 1e6
    overlap = summed - union
    if not basin_km2:  # the outlets' pour cells drain nothing: both checks fail rather than divide by zero
        basin_km2 = float("nan")
    deviation = abs(union - basin_km2) / basin_km2
    values = {"basin_km2": round(basin_km2, 6), "union_km2": round(union, 6), "summed_km2": round(summed, 6)}
    yield dg.AssetCheckResult(
        check_name="no_overlap",
        asset_key=REACH_CATCHMENTS,
        passed=bool(overlap <= MAX_OVERLAP_FRACTION * basin_km2),
        metadata=values | {"overlap_km2": round(overlap, 6), "overlap_fraction": overlap / basin_km2},
    )
    yield dg.AssetCheckResult(
        check_name="union_equals_basin",
        asset_key=REACH_CATCHMENTS,
        passed=bool(deviation <= MAX_UNION_DEVIATION),
        metadata=values | {"deviation_fraction": round(deviation, 6)},
    )


# --- D-infinity against D8 at the basin outlets (flow_accumulation/dinf) -----------------------------
#
# D-infinity and D8 route the same conditioned DEM to the same outlets, so over a basin large enough that
# D-infinity's crossing of the D8 divides averages out, both deliver the same area at its outlet. A
# D-infinity that re-conditions the DEM, ignores the edge or nodata as outlets, or leaks flow into a cycle
# moves whole basins elsewhere: this check stops it before features use the accumulation.

DINF_AREA_TOLERANCE = 0.02
"""D-infinity's upstream area at a basin outlet may differ from D8's by at most 2 %."""

MIN_OUTLET_CELLS = 25_000
"""Basins of at least this many analysis cells are compared (minimum area = cells x cell size²).

D-infinity legitimately sends part of the flow of cells along a D8 divide into the neighbouring basin;
the exchange is a strip along the divide, so its share falls as the basin grows. On SRTM around Mont
Ventoux, basins of 2,000-20,000 cells differ by up to 3-4 % (the same basins at 90 m and at 30 m), every
basin from 25,000 cells on by at most 1 %. The largest basin is always compared, so the check never
compares nothing."""

DINF_CHECK_NAME = "dinf_agrees_with_d8_at_outlets"
DINF_CHECK_SPECS = [
    dg.AssetCheckSpec(
        DINF_CHECK_NAME,
        asset=catchment_key("flow_accumulation/dinf"),
        blocking=True,
        partitions_def=CATCHMENT_PARTITIONS,
        description=f"At every D8 basin outlet draining at least {MIN_OUTLET_CELLS:,} cells (and at the "
        f"largest), the D-infinity upstream area is the D8 one within {DINF_AREA_TOLERANCE:.0%}.",
    )
]


def audit_dinf_outlets(outlets: dict[str, np.ndarray], cell_m: float) -> dg.AssetCheckResult:
    """The D-infinity check on the outlet areas of :func:`flow.outlet_areas_km2` (largest basin first)."""
    d8_km2, dinf_km2 = outlets["d8_km2"].astype(np.float64), outlets["dinf_km2"].astype(np.float64)
    min_km2 = MIN_OUTLET_CELLS * cell_m**2 / 1e6
    compared = d8_km2 >= min_km2
    compared[: min(1, len(compared))] = True
    deviation = np.abs(dinf_km2 - d8_km2) / np.where(d8_km2 > 0, d8_km2, np.nan)
    worst = np.argsort(-np.where(compared, deviation, -1.0), kind="stable")[: min(10, int(compared.sum()))]
    failing = int((compared & ~(deviation <= DINF_AREA_TOLERANCE)).sum())
    return dg.AssetCheckResult(
        check_name=DINF_CHECK_NAME,
        asset_key=catchment_key("flow_accumulation/dinf"),
        passed=bool(compared.any()) and failing == 0,
        metadata={
            "outlets_compared": int(compared.sum()),
            "outlets_failing": failing,
            "min_basin_km2": round(min_km2, 6),
            "tolerance": DINF_AREA_TOLERANCE,
            "max_deviation": float(np.nanmax(deviation[compared])) if compared.any() else float("nan"),
            "worst_outlets": [
                {
                    "cell": int(outlets["outlet"][i]),
                    "d8_km2": round(float(d8_km2[i]), 4),
                    "dinf_km2": round(float(dinf_km2[i]), 4),
                    "deviation": round(float(deviation[i]), 5),
                }
                for i in worst
            ],
        },
    )
