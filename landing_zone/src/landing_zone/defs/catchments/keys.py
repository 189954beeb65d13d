"""Asset keys of the catchments domain: the river network (``hydrography/...``) and delineation
(``catchments/...``).

The layers other locations read (aligned rivers, reaches, reach and progressive catchments) are in the
shared registry (:mod:`shared.assets.landing_zone`); these functions give the same keys.
"""

from dagster import AssetKey

HYDROGRAPHY_STAGES = ("rivers", "rivers_aligned")
"""The river network as published, and moved onto the DEM's drainage."""


def hydrography_key(stage: str) -> AssetKey:
    """``hydrography/{rivers|rivers_aligned}``."""
    if stage not in HYDROGRAPHY_STAGES:
        raise ValueError(f"no hydrography asset {stage!r}")
    return AssetKey(["hydrography", stage])


HYDROGRAPHY_KEYS = tuple(hydrography_key(stage) for stage in HYDROGRAPHY_STAGES)
"""Both river-network assets."""

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
"""Every delineation stage, upstream to downstream; the accumulation stages nest."""


def catchment_key(stage: str) -> AssetKey:
    """``catchments/{stage}``; the accumulation stages nest (``catchments/flow_accumulation/d8``)."""
    if stage not in CATCHMENT_STAGES:
        raise ValueError(f"no catchments asset {stage!r}")
    return AssetKey(["catchments", *stage.split("/")])


CATCHMENT_KEYS = tuple(catchment_key(stage) for stage in CATCHMENT_STAGES)
"""Every delineation asset."""
