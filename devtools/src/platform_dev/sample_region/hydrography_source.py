"""The published river network: the true rivers, shifted by a constant offset plus vertex noise.

National river vectors are digitised from other sources than the DEM and sit a few metres off its
drainage lines; the pipeline must estimate and correct that offset, so the truth keeps it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from platform_dev.sample_region.rivers import River
from platform_dev.sample_region.spec import RegionSpec

VERTEX_SPACING_M = 20.0
NOISE_SIGMA_M = 0.8


def write_rivers(spec: RegionSpec, out: Path, rivers: list[River]) -> dict[str, Any]:
    """Write ``hydrography/rivers.geojson`` (published) and ``truth/rivers.geojson``; return the offset."""
    rng = np.random.default_rng([spec.seed, 40])
    angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(4.0, 8.0)
    offset = (round(float(distance * np.cos(angle)), 2), round(float(distance * np.sin(angle)), 2))
    step = int(VERTEX_SPACING_M)
    published = []
    for river in rivers:
        vertices = np.vstack([river.points[::step], river.points[-1:]]) + offset
        vertices += rng.normal(0.0, NOISE_SIGMA_M, size=vertices.shape)
        published.append(_feature(river, vertices))
    _write(out / "hydrography" / "rivers.geojson", published)
    _write(out / "truth" / "rivers.geojson", [_feature(river, river.points[::2]) for river in rivers])
    return {"offset_m": offset, "noise_sigma_m": NOISE_SIGMA_M, "true_rivers": "truth/rivers.geojson"}


def _feature(river: River, vertices: np.ndarray) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"river_id": river.river_id, "name": river.name, "receiving": river.receiving},
        "geometry": {"type": "LineString", "coordinates": np.round(vertices, 2).tolist()},
    }


def _write(path: Path, features: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "EPSG:2180"}},
        "features": features,
    }
    path.write_text(json.dumps(collection), encoding="utf-8")
