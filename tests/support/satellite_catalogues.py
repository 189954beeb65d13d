"""The small sample region's satellite catalogue in both versions, as the generator publishes them.

Written once per test session by the ``catalogues`` fixture of ``tests/conftest.py``, which the
generator's own tests (``tests/sample_region``) and the satellite domain's (``tests/satellite``) share:
both read the same seed and region, so one session generates the scenes once. Tests copy a version
before they change it. The generator is imported inside :func:`write_catalogues`, so loading the
conftest does not load rasterio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platform_dev.sample_region.spec import RegionSpec


@dataclass(frozen=True)
class Catalogues:
    """Each version's ``catalog.json``, in folders of their own (``v1/``, ``v2/``) as a provider
    republishes: version 2 started as a copy of version 1."""

    spec: RegionSpec
    v1: Path
    v2: Path


def write_catalogues(out: Path, seed: int) -> Catalogues:
    """Both versions of the small region of ``seed`` under ``out``."""
    from platform_dev.sample_region.satellite import write_versions

    spec = RegionSpec.for_size("small", seed)
    catalogs = write_versions(spec, out)
    return Catalogues(spec, catalogs[1], catalogs[2])
