"""Both code locations as the one asset graph the deployed workspace shows.

In the deployment each location is its own server and Dagster joins their graphs: a key that
``discharge_model`` declares as an external ``AssetSpec`` (a landing-zone input, read by registry key) is
the landing-zone asset that produces it, with its checks. The demo and the automation tests need that
same graph in one process, to evaluate the automation conditions across the two locations.
"""

from __future__ import annotations

import dagster as dg


def joined_definitions() -> dg.Definitions:
    """landing_zone and discharge_model as one graph, each key defined by the location producing it."""
    from discharge_model.definitions import defs as model
    from landing_zone.definitions import defs as landing

    produced = {key for a in landing.assets or [] if isinstance(a, dg.AssetsDefinition) for key in a.keys}
    own = [a for a in model.assets or [] if not (isinstance(a, dg.AssetSpec) and a.key in produced)]
    return dg.Definitions(
        assets=[*(landing.assets or []), *own],
        asset_checks=[*(landing.asset_checks or []), *(model.asset_checks or [])],
        resources={**dict(model.resources or {}), **dict(landing.resources or {})},
    )
