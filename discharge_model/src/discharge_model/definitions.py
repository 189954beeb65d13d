"""The ``discharge_model`` code location: one definitions root, assets from ``defs/`` per domain.

Only light modules are imported here; rasterio and (later) torch load inside the asset functions.
Everything after ``import dagster`` loads under :func:`shared.loading.frozen_load`: the garbage collector
would otherwise spend a good part of the load traversing objects that all stay alive.
"""

from dagster import Definitions

from shared.loading import frozen_load

with frozen_load():
    from discharge_model.defs.forecast.definitions import forecast_definitions
    from discharge_model.defs.lstm.definitions import lstm_definitions
    from discharge_model.defs.model_inputs.definitions import model_input_definitions
    from discharge_model.defs.training_data.definitions import training_data_definitions
    from shared.resources.platform import platform_executor, platform_resources

    defs = Definitions.merge(
        model_input_definitions(),
        training_data_definitions(),
        lstm_definitions(),
        forecast_definitions(),
        Definitions(resources=platform_resources(), executor=platform_executor()),
    )
