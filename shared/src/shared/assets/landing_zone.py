"""Asset keys produced by the ``landing_zone`` code location that other locations may depend on."""

from dagster import AssetKey, MultiPartitionsDefinition, StaticPartitionsDefinition

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

HYDROGRAPHY_STAGES = ("rivers", "rivers_aligned")


def hydrography_key(stage: str) -> AssetKey:
    """``hydrography/{rivers|rivers_aligned}``: the river network as published, and moved onto the DEM."""
    if stage not in HYDROGRAPHY_STAGES:
        raise ValueError(f"no hydrography asset {stage}")
    return AssetKey(["hydrography", stage])


HYDROGRAPHY_KEYS = tuple(hydrography_key(stage) for stage in HYDROGRAPHY_STAGES)
"""Both river-network assets."""

RIVERS_ALIGNED = hydrography_key("rivers_aligned")
"""River lines per region, shifted by the offset estimated against the DEM's drainage (GeoParquet)."""

CATCHMENT_STAGES = (
    "analysis_dem",
    "conditioned_dem",
    "flow_direction",
    "flow_accumulation/d8",
    "flow_accumulation/dinf",
    "reaches",
    "reach_catchments",
    "progressive_catchments",
)

CONDITIONING = StaticPartitionsDefinition(["burn_fill", "fill"])
"""DEM conditioning strategies, materialised side by side: ``burn_fill`` (stream burning with the aligned
rivers, then priority-flood filling) is the platform's choice; ``fill`` (filling only) is the reference."""

CATCHMENT_PARTITIONS = MultiPartitionsDefinition({"conditioning": CONDITIONING, "region": REGIONS})
"""Everything from the conditioned DEM on exists once per conditioning strategy and region."""


def catchment_key(stage: str) -> AssetKey:
    """``catchments/{stage}``; the accumulation stages nest (``catchments/flow_accumulation/d8``)."""
    if stage not in CATCHMENT_STAGES:
        raise ValueError(f"no catchments asset {stage}")
    return AssetKey(["catchments", *stage.split("/")])


CATCHMENT_KEYS = tuple(catchment_key(stage) for stage in CATCHMENT_STAGES)
"""Every asset of the catchments domain."""

REACHES = catchment_key("reaches")
"""~100 m river reaches with topology, Strahler order and upstream area (GeoParquet + FlatGeobuf)."""

REACH_CATCHMENTS = catchment_key("reach_catchments")
"""One non-overlapping catchment polygon per reach (GeoParquet + FlatGeobuf): the model's spatial unit."""

PROGRESSIVE_CATCHMENTS = catchment_key("progressive_catchments")
"""Each reach's whole upstream catchment, composed from reach catchments (GeoParquet + FlatGeobuf)."""
