"""Run configuration of the catchment assets: the few numbers an operator may change per run.

Kept apart from :mod:`assets` so the tunable knobs of the whole domain read in one place; every default
is the value the assets have always run with.
"""

import dagster as dg


class AlignmentConfig(dg.Config):
    search_m: float = 15.0
    """Largest offset searched in x and y (widened to two analysis cells where cells are larger)."""


class AnalysisGridConfig(dg.Config):
    resolution_m: float | None = None
    """Cell size delineation runs at (the DEM is averaged onto it block-wise); None: the region's
    ``analysis_resolution_m`` from the regions file (:mod:`shared.regions`)."""


class ConditioningConfig(dg.Config):
    burn_depth_m: float = 5.0
    """How far river cells are lowered before filling (``burn_fill``)."""


class ReachConfig(dg.Config):
    target_length_m: float = 100.0
    """Reaches are cut to about this length (equal lengths along each river)."""
