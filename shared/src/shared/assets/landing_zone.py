"""Asset keys produced by the ``landing_zone`` code location that other locations may depend on."""

from dagster import AssetKey, StaticPartitionsDefinition

REGIONS = StaticPartitionsDefinition(["pilica"])
"""The regions the platform covers; region-partitioned assets of both locations share this."""

ELEVATION_PRODUCTS = ("dtm", "dsm")
ELEVATION_STAGES = ("wfs_index", "raw_tiles", "converted_tiles", "consolidated")


def elevation_key(product: str, stage: str) -> AssetKey:
    """``elevation/{dtm|dsm}/{wfs_index|raw_tiles|converted_tiles|consolidated}``."""
    if product not in ELEVATION_PRODUCTS or stage not in ELEVATION_STAGES:
        raise ValueError(f"no elevation asset {product}/{stage}")
    return AssetKey(["elevation", product, stage])


ELEVATION_KEYS = tuple(
    elevation_key(product, stage) for product in ELEVATION_PRODUCTS for stage in ELEVATION_STAGES
)
"""Every asset of both elevation pipelines."""

DTM_CONSOLIDATED = elevation_key("dtm", "consolidated")
"""The consolidated terrain model per region (COG, EPSG:2180): what catchments and the model read."""

DSM_CONSOLIDATED = elevation_key("dsm", "consolidated")
"""The consolidated surface model per region (COG)."""

STATION_NETWORKS = ("meteo", "hydro")
STATION_STAGES = ("sync_plan", "stations", "raw_observations", "polished_timeseries")


def station_key(network: str, stage: str) -> AssetKey:
    """``{meteo|hydro}/{sync_plan|stations|raw_observations|polished_timeseries}``."""
    if network not in STATION_NETWORKS or stage not in STATION_STAGES:
        raise ValueError(f"no station asset {network}/{stage}")
    return AssetKey([network, stage])


STATION_KEYS = tuple(station_key(network, stage) for network in STATION_NETWORKS for stage in STATION_STAGES)
"""Every asset of the station pipelines."""

METEO_POLISHED = station_key("meteo", "polished_timeseries")
"""Daily meteorological series per station, flagged value by value (the model's forcing)."""

HYDRO_POLISHED = station_key("hydro", "polished_timeseries")
"""Daily water level and discharge per gauge, flagged value by value (the model's target)."""
