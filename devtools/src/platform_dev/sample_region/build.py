"""Build a whole sample region into a folder: sources as providers publish them, and the truth."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from platform_dev.sample_region.elevation_source import write_elevation
from platform_dev.sample_region.hydrography_source import write_rivers
from platform_dev.sample_region.hydrology import delineate_gauges
from platform_dev.sample_region.rough import write_rough_sources
from platform_dev.sample_region.spec import CRS, RegionSpec
from platform_dev.sample_region.stations import write_stations
from platform_dev.sample_region.terrain import region_model

log = logging.getLogger(__name__)
MANIFEST = "truth/manifest.json"


def build_region(spec: RegionSpec, out: Path) -> dict[str, Any]:
    """Write every source and the truth manifest; returns the manifest. The rough region writes only
    what the catchment chain reads (see :mod:`rough`)."""
    out.mkdir(parents=True, exist_ok=True)
    if spec.size == "rough":
        return _write_manifest(out, {"region": _region_entry(spec), **write_rough_sources(spec, out)})
    from platform_dev.sample_region.grib import write_forecasts

    model = region_model(spec)
    manifest: dict[str, Any] = {"region": _region_entry(spec)}
    steps = [
        ("elevation", lambda: write_elevation(spec, out)),
        ("rivers", lambda: write_rivers(spec, out, model.rivers)),
        ("stations", lambda: _stations(spec, out, model)),
        ("forecasts", lambda: write_forecasts(spec, out)),
        ("satellite", lambda: _satellite(spec, out)),
    ]
    for name, step in steps:
        started = time.perf_counter()
        manifest[name] = step()
        log.info("%s written in %.1f s", name, time.perf_counter() - started)
    manifest["planted_sinks"] = [vars(sink) for sink in model.sinks]
    return _write_manifest(out, manifest)


def _write_manifest(out: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    path = out / MANIFEST
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str), encoding="utf-8")
    return manifest


def _stations(spec: RegionSpec, out: Path, model: Any) -> dict[str, Any]:
    gauges = delineate_gauges(spec, model.rivers, out / "truth" / "dtm.tif")
    entry = write_stations(spec, out, gauges)
    entry["gauges"] = [
        {
            "code": g.code,
            "name": g.name,
            "river_id": g.river_id,
            "x": g.x,
            "y": g.y,
            "area_km2": round(g.area_km2, 4),
        }
        for g in gauges
    ]
    return entry


def _satellite(spec: RegionSpec, out: Path) -> dict[str, Any]:
    """Every catalogue version, each in its own folder (:func:`write_versions`), and what changed."""
    from platform_dev.sample_region.satellite import default_months, withdrawn_months, write_versions

    entry: dict[str, Any] = {
        f"v{version}": {
            "catalog": str(catalog.relative_to(out)),
            "months": [f"{month:%Y-%m}" for month in default_months(spec, version)],
        }
        for version, catalog in write_versions(spec, out / "satellite").items()
    }
    entry["withdrawn_months"] = [f"{month:%Y-%m}" for month in withdrawn_months(spec)]
    return entry


def _region_entry(spec: RegionSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "size": spec.size,
        "seed": spec.seed,
        "crs": CRS,
        "bounds": list(spec.bounds),
        "cell_size_m": spec.cell_size,
        "tile_size_m": spec.tile_size_m,
        "start": spec.start.isoformat(),
        "end": spec.end.isoformat(),
    }
