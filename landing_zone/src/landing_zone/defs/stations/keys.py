"""Asset keys of the station pipelines: ``{network}/{stage}``.

The networks are whatever ``*/defs.yaml`` instantiates (``meteo``, ``hydro``), so only the stage is
checked here: adding a network stays one ``defs.yaml``. The polished series, which other locations read,
are in the shared registry (:data:`shared.assets.landing_zone.METEO_POLISHED`, ``HYDRO_POLISHED``).
"""

from dagster import AssetKey

STATION_STAGES = ("sync_plan", "stations", "raw_observations", "polished_timeseries")
"""Every stage of one network's pipeline, upstream to downstream."""


def station_key(network: str, stage: str) -> AssetKey:
    """``{network}/{sync_plan|stations|raw_observations|polished_timeseries}``."""
    if stage not in STATION_STAGES:
        raise ValueError(f"no station stage {stage!r} (of {network!r})")
    return AssetKey([network, stage])
