"""The blocking checks of gauge matching and of the training dataset: DuckDB SQL selecting the offending
rows (:class:`shared.resources.duckdb_checks.SqlCheck`), run on the candidate before it is published.

Every threshold is a column of the table it judges (``search_distance_m``, ``area_ratio_min``,
``min_coverage``, ``unit_min``...), filled from the run's config and the data's own cell size, so the SQL
is fixed while the numbers stay visible beside each offending row. Every offending row names its gauge
or basin and, for the dataset, its column; :func:`described` turns them into the check's description, the
message a failed run shows.
"""

from __future__ import annotations

import dagster as dg

from shared.resources.duckdb_checks import SqlCheck

# --- discharge_model/gauge_catchments ------------------------------------------------------------------

GAUGE_CHECKS = (
    SqlCheck(
        name="every_gauge_matched",
        description="Every gauge of the region lies within the search distance (search_cells analysis "
        "cells) of a reach; offending rows give the distance to the nearest reach.",
        blocking=True,
        sql="""
            SELECT gauge, gauge_name, river, match_distance_m, search_distance_m
            FROM {table}
            WHERE catchment_id IS NULL OR NOT (match_distance_m <= search_distance_m)
            ORDER BY gauge
        """,
    ),
    SqlCheck(
        name="area_ratio_in_range",
        description="The matched progressive catchment's area over the area the gauge drains (the "
        "provider's, else along the reach) lies in [area_ratio_min, area_ratio_max] (default 1/1.2..1.2: a "
        "larger error biases the specific discharge target by as much).",
        blocking=True,
        sql="""
            SELECT gauge, catchment_id, catchment_area_km2, area_at_gauge_km2, area_ratio, area_ratio_basis,
                   area_ratio_min, area_ratio_max
            FROM {table}
            WHERE catchment_id IS NOT NULL
              AND (area_ratio IS NULL OR area_ratio < area_ratio_min OR area_ratio > area_ratio_max)
            ORDER BY gauge
        """,
    ),
    SqlCheck(
        name="one_gauge_per_catchment",
        description="No two gauges share a catchment: the dataset has one target series per basin.",
        blocking=True,
        sql="""
            SELECT catchment_id, count(*) AS gauges, string_agg(gauge, ', ' ORDER BY gauge) AS gauge_codes
            FROM {table}
            WHERE catchment_id IS NOT NULL
            GROUP BY catchment_id
            HAVING count(*) > 1
            ORDER BY catchment_id
        """,
    ),
    SqlCheck(
        name="gauge_codes_unique",
        description="Each gauge code is listed once: the code is the basin id of the training dataset.",
        blocking=True,
        sql="""
            SELECT gauge, count(*) AS listed FROM {table} GROUP BY gauge HAVING count(*) > 1 ORDER BY gauge
        """,
    ),
)

# --- discharge_model/training_data: one group per audit table (:mod:`.audit`) ---------------------------

PERIOD_CHECKS = (
    SqlCheck(
        name="periods_ordered_without_overlap",
        description="Train, validation and test each span at least a day and start after the previous one "
        "ends: a day in two periods would be evaluated on what the model was trained on.",
        blocking=True,
        sql="""
            SELECT period, first_day, last_day, days, previous_period, previous_last_day
            FROM (
                SELECT *, lag(period) OVER (ORDER BY period_order) AS previous_period,
                          lag(last_day) OVER (ORDER BY period_order) AS previous_last_day
                FROM {table}
            )
            WHERE days < 1 OR first_day <= previous_last_day
            ORDER BY period_order
        """,
    ),
    SqlCheck(
        name="at_least_one_basin_per_period",
        description="Each period has at least one basin whose target coverage reaches the threshold.",
        blocking=True,
        sql="""
            SELECT period, first_day, last_day, basins FROM {table} WHERE basins < 1 ORDER BY period_order
        """,
    ),
)

COVERAGE_CHECKS = (
    SqlCheck(
        name="target_coverage",
        description="Each basin has a valid target (discharge_mm) on at least min_coverage of each period's "
        "days (default 0.5, see TrainingDataConfig.min_target_coverage).",
        blocking=True,
        sql="""
            SELECT basin, "column", period, valid_days, days, round(coverage, 4) AS coverage, min_coverage
            FROM {table}
            WHERE coverage < min_coverage
            ORDER BY basin, period
        """,
    ),
)

BASIN_CHECKS = (
    SqlCheck(
        name="catchment_areas_agree",
        description="The forcings and attributes describe the catchment gauge matching chose: their area_km2 "
        "equals its progressive area within one analysis cell (the inputs follow one conditioning strategy).",
        blocking=True,
        sql="""
            SELECT basin, catchment_id, 'area_km2' AS "column", area_km2, forcings_area_km2,
                   attributes_area_km2, tolerance_km2
            FROM {table}
            WHERE abs(forcings_area_km2 - area_km2) > tolerance_km2
               OR abs(attributes_area_km2 - area_km2) > tolerance_km2
            ORDER BY basin
        """,
    ),
)

COLUMN_CHECKS = (
    SqlCheck(
        name="expected_columns_present",
        description="Every dynamic input and static attribute the config names is a column of its input "
        "(a column renamed upstream is missing here, by its expected name).",
        blocking=True,
        sql="""
            SELECT basin, "column", role, source FROM {table} WHERE NOT present ORDER BY "column", basin
        """,
    ),
    SqlCheck(
        name="dynamic_inputs_complete",
        description="No dynamic input is missing (NaN) on any day from the train start to the test end: "
        "NeuralHydrology drops every sequence that reads one.",
        blocking=True,
        sql="""
            SELECT basin, "column", source, missing AS missing_days, first_missing
            FROM {table}
            WHERE role = 'dynamic' AND present AND missing > 0
            ORDER BY basin, "column"
        """,
    ),
    SqlCheck(
        name="static_attributes_complete",
        description="No static attribute is missing (NaN) for any basin: NeuralHydrology refuses them.",
        blocking=True,
        sql="""
            SELECT basin, "column", source
            FROM {table}
            WHERE role = 'static' AND present AND missing > 0
            ORDER BY basin, "column"
        """,
    ),
    SqlCheck(
        name="units_consistent",
        description="Every column has a unit (from its name: _mm mm/day, _c degC, _pct %, _hpa hPa, ...; "
        "units.py) and its values lie in that unit's physical range, so a column delivered in another unit "
        "(Pa, K, a fraction) is caught.",
        blocking=True,
        sql="""
            SELECT basin, "column", unit, minimum, maximum, unit_min, unit_max
            FROM {table}
            WHERE present
              AND (unit IS NULL OR (value_count > 0 AND (minimum < unit_min OR maximum > unit_max)))
            ORDER BY basin, "column"
        """,
    ),
    SqlCheck(
        name="static_attributes_vary_across_basins",
        description="Each static attribute differs between at least two basins: NeuralHydrology normalises "
        "it by its standard deviation across basins and refuses one of zero (or of a single basin). A "
        "warning, not blocking: the trainer leaves such attributes out of its run and says so.",
        blocking=False,
        severity=dg.AssetCheckSeverity.WARN,
        sql="""
            SELECT "column", count(minimum) AS basins, min(minimum) AS minimum, max(minimum) AS maximum
            FROM {table}
            WHERE role = 'static' AND present
            GROUP BY "column"
            HAVING count(minimum) < 2 OR min(minimum) = max(minimum)
            ORDER BY "column"
        """,
    ),
)

TRAINING_CHECKS = (*PERIOD_CHECKS, *COVERAGE_CHECKS, *BASIN_CHECKS, *COLUMN_CHECKS)
"""Every check of the training dataset, in the order they are reported."""

DESCRIBED_ROWS = 5
"""Offending rows spelled out in a failed check's description (all of them are in its metadata)."""


def described(result: dg.AssetCheckResult) -> dg.AssetCheckResult:
    """The result with a description naming its first offending rows (``basin=... column=...``): the
    message a reviewer reads in the run's failure without opening the metadata."""
    if result.passed:
        return result
    rows = result.metadata["offending_values"].value
    count = result.metadata["offending_rows"].value
    shown = "; ".join(
        ", ".join(f"{name}={value}" for name, value in row.items())
        for row in (rows if isinstance(rows, list) else [])[:DESCRIBED_ROWS]
    )
    more = (
        f" (and {count - DESCRIBED_ROWS} more)" if isinstance(count, int) and count > DESCRIBED_ROWS else ""
    )
    return dg.AssetCheckResult(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        severity=result.severity,
        metadata=result.metadata,
        description=f"{result.check_name}: {count} offending row(s): {shown}{more}",
    )
