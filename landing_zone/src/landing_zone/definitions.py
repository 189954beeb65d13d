"""The ``landing_zone`` code location: every domain under ``defs/`` loaded the same way, by Dagster's
defs-folder loader, merged with the platform's resources and executor.

The loader imports every module under ``defs/`` and collects what each contributes: a module-level
``Definitions`` or Dagster objects, and one component instance per ``defs.yaml`` (see
:mod:`landing_zone.defs`). Every module there must therefore import light: GDAL/rasterio load inside
the asset functions.

``ComponentTree.from_module`` rather than ``load_from_defs_folder``: the latter finds the package through
``[tool.dg]`` in pyproject.toml, which a non-editable install (the image) does not have.

The tree is built at the defs folder, not at its root: the root adds a JSON catalogue of Dagster's own
component types (for the UI's component docs), which costs about 0.35 s of pydantic schema generation
at every load of the location (every run worker and step pod) and describes nothing of ours.

Every asset is placed in its domain's group with its owners here, in one call
(:func:`shared.asset_groups.in_catalogue`), not in each decorator; the one sensor that evaluates every
automation condition is declared here too (:func:`shared.instigators.automation_sensor`).

Everything after ``import dagster`` loads under :func:`shared.loading.frozen_load`: the garbage collector
would otherwise spend about a quarter of the load traversing objects that all stay alive.
"""

from pathlib import Path

import dagster as dg

from shared.loading import frozen_load

with frozen_load():
    import landing_zone.defs as defs_folder
    from landing_zone.resources.sources import SourcesResource
    from shared.asset_groups import in_catalogue
    from shared.instigators import automation_sensor
    from shared.resources.platform import platform_executor, platform_resources

    component_tree = dg.ComponentTree.from_module(defs_module=defs_folder, project_root=Path(__file__).parent)

    defs = in_catalogue(
        dg.Definitions.merge(
            component_tree.build_defs(component_tree.defs_module_path),
            dg.Definitions(
                resources={**platform_resources(), "sources": SourcesResource.from_environment()},
                executor=platform_executor(),
                sensors=[automation_sensor("landing_zone")],
                component_tree=component_tree,
            ),
        )
    )
