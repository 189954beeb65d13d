"""Asset keys of the elevation pipelines: ``elevation/{product}/{stage}``.

The products are whatever ``*/defs.yaml`` instantiates (``dtm``, ``dsm``), so only the stage is checked
here: adding a product stays one ``defs.yaml``. The consolidated DTM, which other locations read, is in
the shared registry (:data:`shared.assets.landing_zone.DTM_CONSOLIDATED`).
"""

from dagster import AssetKey

ELEVATION_STAGES = ("wfs_index", "raw_tiles", "converted_tiles", "consolidated")
"""Every stage of one product's pipeline, upstream to downstream."""


def elevation_key(product: str, stage: str) -> AssetKey:
    """``elevation/{product}/{wfs_index|raw_tiles|converted_tiles|consolidated}``."""
    if stage not in ELEVATION_STAGES:
        raise ValueError(f"no elevation stage {stage!r} (of {product!r})")
    return AssetKey(["elevation", product, stage])
