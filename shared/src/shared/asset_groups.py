"""Where every asset sits in the Dagster catalogue: one group per domain and the team that owns it.

Without groups every asset lands in ``default``, and the lineage view, which names an asset by the last
component of its key inside its group, shows ``consolidated``, ``raw_tiles``, ``polished_timeseries``, ...
twice with no way to tell DTM from DSM or meteo from hydro. A group per domain makes (group, name)
unique and tells an analyst who to ask. The group follows from the key alone (the keys are hierarchical
by lineage, DESIGN.md), so both code locations place their assets in one call at their definitions root,
:func:`in_catalogue`, instead of in every decorator, and the discharge model's specs of landing-zone
keys land in the same group as the assets they stand for.

A key that no prefix places is an error at load (naming the key), not a silent ``default``: a new asset
family is placed here deliberately, and the asset snapshots show where.
"""

from collections.abc import Iterable

import dagster as dg
from dagster_shared.record import copy

GROUP_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("elevation", "dtm"), "elevation_dtm"),
    (("elevation", "dsm"), "elevation_dsm"),
    (("meteo",), "meteo"),
    (("hydro",), "hydro"),
    (("hydrography",), "catchments"),
    (("catchments",), "catchments"),
    (("features", "catchment_forecast_forcings"), "forecast"),
    (("features",), "features"),
    (("climatic_indices",), "features"),
    (("forecast",), "forecast"),
    (("satellite",), "satellite"),
    (("discharge_model",), "discharge_model"),
)
"""Key prefix -> group; the longest matching prefix wins. The rivers (``hydrography/*``) are the
catchments' input and only serve them; ``meteo/daily_grids`` and the station lists stay with their
network; the forecast forcings follow the weather-model run they are computed from, not the observed
features."""

OWNERS: dict[str, tuple[str, ...]] = {
    "elevation_dtm": ("team:terrain",),
    "elevation_dsm": ("team:terrain",),
    "catchments": ("team:terrain",),
    "meteo": ("team:observations",),
    "hydro": ("team:observations",),
    "forecast": ("team:forecasting",),
    "satellite": ("team:remote-sensing",),
    "features": ("team:hydrology-ml",),
    "discharge_model": ("team:hydrology-ml",),
}
"""Group -> owners (Dagster ``team:`` owners): terrain for the DEMs and what is derived from them,
observations for the station networks, forecasting for the weather-model runs, remote sensing for the
imagery, and the model's team for its inputs (features) and the model itself."""


def group_of(key: dg.AssetKey) -> str:
    """The catalogue group of ``key``, by the longest prefix of :data:`GROUP_PREFIXES` it starts with."""
    matches = [
        (len(prefix), group) for prefix, group in GROUP_PREFIXES if tuple(key.path[: len(prefix)]) == prefix
    ]
    if not matches:
        raise ValueError(
            f"asset {key.to_user_string()} has no catalogue group: add its key prefix to "
            "shared.asset_groups.GROUP_PREFIXES"
        )
    return max(matches)[1]


def placed(spec: dg.AssetSpec) -> dg.AssetSpec:
    """``spec`` in its domain's group, with the domain's owners added to any it already names."""
    group = group_of(spec.key)
    owners = list(dict.fromkeys([*spec.owners, *OWNERS[group]]))
    return spec.replace_attributes(group_name=group, owners=owners)


def in_catalogue(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` with every asset and asset spec :func:`placed`; checks, sensors and jobs unchanged.

    The assets are first deduplicated by reference: the defs-folder loader lists a domain's asset once
    per module that holds it, which the repository tolerates (it deduplicates by reference too) but two
    mapped copies of one asset would be two definitions of one key.
    """
    # Definitions is a dagster_shared record: copy() is its copy-with-changes, keeping every other field.
    return copy(defs, assets=dg.map_asset_specs(placed, _unique_specs(defs.assets or [])))


def _unique_specs(assets: Iterable[object]) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """Each asset once; a kind that cannot be mapped (``SourceAsset``) is refused, naming it."""
    unique: list[dg.AssetsDefinition | dg.AssetSpec] = []
    for asset in {id(asset): asset for asset in assets}.values():
        if not isinstance(asset, (dg.AssetsDefinition, dg.AssetSpec)):
            raise TypeError(f"{asset!r} cannot be placed in a catalogue group: declare it as an AssetSpec")
        unique.append(asset)
    return unique
