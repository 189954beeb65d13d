"""Asset keys of the features domain: the daily meteo grids (``meteo/daily_grids``) and the catchment
features derived from them (``features/...``).

Only the grids exist so far; the catchment forcings, attributes and climatic indices of issue 14 add their
stages here (and, where the discharge model reads them, their keys to :mod:`shared.assets.landing_zone`).
"""

from dagster import AssetKey

METEO_DAILY_GRIDS = AssetKey(["meteo", "daily_grids"])
"""Daily grids of every polished meteo variable per month and region: one COG per variable."""

FEATURE_STAGES: tuple[str, ...] = ()
"""Every ``features/{stage}`` asset, upstream to downstream (none yet: the catchment forcings come next)."""


def features_key(stage: str) -> AssetKey:
    """``features/{stage}``."""
    if stage not in FEATURE_STAGES:
        raise ValueError(f"no features asset {stage!r}")
    return AssetKey(["features", stage])
