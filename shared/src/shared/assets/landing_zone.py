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
