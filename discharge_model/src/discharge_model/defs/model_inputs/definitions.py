"""The model inputs' definitions: the landing-zone DTM they read, the model grid and its cell attributes."""

import dagster as dg

from discharge_model.defs.model_inputs.assets import (
    landing_zone_terrain,
    model_cell_attributes,
    model_grid_elevation,
)


def model_input_definitions() -> dg.Definitions:
    """The domain's one entry point, so the location root needs to know no module but this one."""
    return dg.Definitions(assets=[landing_zone_terrain, model_grid_elevation, model_cell_attributes])
