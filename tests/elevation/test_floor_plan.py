"""The elevation domain keeps the floor plan: its plain modules import no Dagster, and the location's
DTM and DSM pipelines are the instances their ``defs.yaml`` declare."""

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest

from landing_zone.defs import elevation
from landing_zone.defs.elevation.definitions import ElevationPipeline
from landing_zone.defs.elevation.keys import ELEVATION_STAGES

DAGSTER_MODULES = {"__init__", "definitions", "assets", "checks", "sensors", "schedules", "resources", "keys"}
"""A domain's entry point and role-named modules; every other module is plain computation. (``keys``
imports Dagster's ``AssetKey`` only: ``tests/unit/test_domain_keys.py``.)"""


def plain_modules(domain: ModuleType) -> list[str]:
    """Every module of a domain but its Dagster ones, found on disk so a new module is checked too."""
    folder = Path(str(domain.__file__)).parent
    return sorted(
        f"{domain.__name__}.{path.stem}" for path in folder.glob("*.py") if path.stem not in DAGSTER_MODULES
    )


def imports_dagster(module: str) -> bool:
    """Whether importing ``module`` alone, in a fresh interpreter, loads Dagster."""
    probe = f"import sys, {module}; print('dagster' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.strip() == "True"


def component_origins(prefix: tuple[str, ...], stages: tuple[str, ...]) -> list[dg.Component]:
    """The component instance behind each asset ``{prefix}/{stage}`` of the code location (other domains may
    share the prefix: the features domain's ``meteo/daily_grids`` is no station network's)."""
    from landing_zone.definitions import defs

    keys = {dg.AssetKey([*prefix, stage]) for stage in stages}
    specs = [spec for spec in defs.resolve_all_asset_specs() if spec.key in keys]
    assert len(specs) == len(keys), f"expected every stage of {prefix} in the location"
    return [spec.metadata["dagster/component_origin"].instance for spec in specs]


@pytest.mark.parametrize("module", plain_modules(elevation))
def test_plain_modules_import_no_dagster(module):
    assert not imports_dagster(module)


@pytest.mark.parametrize("product", ["dtm", "dsm"])
def test_each_product_is_one_yaml_instance(product):
    assert (Path(str(elevation.__file__)).parent / product / "defs.yaml").is_file()
    origins = component_origins(("elevation", product), ELEVATION_STAGES)
    assert origins == [ElevationPipeline(product=product)] * len(ELEVATION_STAGES)
