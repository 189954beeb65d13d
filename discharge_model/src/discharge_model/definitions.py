"""The ``discharge_model`` code location: one definitions root, assets from ``defs/`` per domain.

Only light modules are imported here; rasterio and (later) torch load inside the asset functions.
Every asset, and every spec of a landing-zone asset it reads, is placed in its domain's group with its
owners here (:func:`shared.asset_groups.in_catalogue`), the same group the landing zone gives that key;
the one sensor that evaluates every automation condition is declared here too
(:func:`shared.instigators.automation_sensor`).
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
    from shared.asset_groups import in_catalogue
    from shared.instigators import automation_sensor
    from shared.resources.platform import platform_executor, platform_resources

    defs = in_catalogue(
        Definitions.merge(
            model_input_definitions(),
            training_data_definitions(),
            lstm_definitions(),
            forecast_definitions(),
            Definitions(
                resources=platform_resources(),
                executor=platform_executor(),
                sensors=[automation_sensor("discharge_model")],
            ),
        )
    )
