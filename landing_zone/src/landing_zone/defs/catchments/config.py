"""Run configuration of the catchment assets: the few numbers an operator may change per run.

Kept apart from :mod:`assets` so the tunable knobs of the whole domain read in one place; every default
is the value the assets have always run with.
"""

import dagster as dg


class AlignmentConfig(dg.Config):
    search_cells: int = 2
    """Largest offset searched in x and y, in analysis cells (whole cells first, then down to a tenth)."""
    min_search_m: float = 15.0
    """The search radius never drops below this many metres (fine grids: 8 cells at 2 m). A radius over
    ``alignment.MAX_SEARCH_CELLS`` cells, or wider than the DEM can judge, is refused before any work,
    naming the setting to change."""


class AnalysisGridConfig(dg.Config):
    resolution_m: float | None = None
    """Cell size delineation runs at (the DEM is averaged onto it block-wise); None: the region's
    ``analysis_resolution_m`` from the regions file (:mod:`shared.regions`)."""


class ConditioningConfig(dg.Config):
    burn_depth_m: float = 5.0
    """How far river cells are lowered before filling (``burn_fill``)."""


class ReachConfig(dg.Config):
    target_length_m: float | None = None
    """Reaches are cut to about this length (equal lengths along each river). None: 100 m, or three
    analysis cells where cells are larger than a third of that (``reaches.reach_length_m``); a length
    below three cells is refused before any work, naming the smallest that works."""
