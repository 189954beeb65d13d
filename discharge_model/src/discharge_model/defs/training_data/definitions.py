"""The training data's definitions: the landing-zone assets it reads (by registry key), gauge matching
and the dataset NeuralHydrology trains from."""

import dagster as dg

from discharge_model.defs.training_data.assets import LANDING_ZONE_INPUTS, gauge_catchments, training_data


def training_data_definitions() -> dg.Definitions:
    """The domain's one entry point, so the location root needs to know no module but this one."""
    return dg.Definitions(assets=[*LANDING_ZONE_INPUTS, gauge_catchments, training_data])
