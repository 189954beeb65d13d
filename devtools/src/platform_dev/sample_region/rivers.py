"""The true river network of the sample region: a meandering main river and its tributaries.

Rivers are built first and the terrain is shaped around them (see :mod:`terrain`), so the DEM's drainage
follows them by construction. Each river is a dense polyline from source to mouth with its bed elevation
at every vertex, falling downstream; a tributary's mouth lies on its receiving river at the same bed
elevation, so the network joins at confluences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from platform_dev.sample_region.spec import RegionSpec

POINT_SPACING_M = 1.0
OUTLET_BED_M = 150.0
MAIN_SLOPE = 0.0012
TRIBUTARY_SLOPE = 0.004


@dataclass(frozen=True)
class River:
    """One river: vertices every ~1 m from source to mouth and the bed elevation at each."""

    river_id: str
    name: str
    points: np.ndarray
    bed_m: np.ndarray
    receiving: str | None
    floodplain_m: float
    wall_height_m: float

    @property
    def length_m(self) -> float:
        return float(np.sum(np.hypot(*np.diff(self.points, axis=0).T)))

    @property
    def mouth(self) -> np.ndarray:
        return self.points[-1]


def river_network(spec: RegionSpec) -> list[River]:
    """The main river (west to east, leaving at the east edge) and tributaries from north and south."""
    rng = np.random.default_rng([spec.seed, 2])
    main = _main_river(spec, rng)
    return [main, *_tributaries(spec, rng, main)]


def _main_river(spec: RegionSpec, rng: np.random.Generator) -> River:
    extent = spec.extent_m
    x = np.linspace(spec.west + 0.08 * extent, spec.east, 4000)
    centre = spec.south + extent * (0.5 + rng.uniform(-0.04, 0.04))
    wavelength, phase = rng.uniform(0.18, 0.24) * min(extent, 8000), rng.uniform(0, 2 * np.pi)
    amplitude = 0.12 * wavelength
    y = centre + amplitude * np.sin(2 * np.pi * (x - spec.west) / wavelength + phase)
    y += 0.03 * extent * np.sin(2 * np.pi * (x - spec.west) / (1.7 * extent) + rng.uniform(0, 6))
    points = _resample(np.column_stack([x, y]))
    distance_to_mouth = _distance_to_end(points)
    return River("main", "Pilica", points, OUTLET_BED_M + MAIN_SLOPE * distance_to_mouth, None, 250.0, 25.0)


def _tributaries(spec: RegionSpec, rng: np.random.Generator, main: River) -> list[River]:
    """Tributaries joining the main river, alternating north and south, confluences spread downstream."""
    count = max(3, round(3 * spec.extent_m / 6000))
    fractions = np.linspace(0.22, 0.85, count)
    rivers = []
    for number, fraction in enumerate(fractions, start=1):
        side = 1 if number % 2 else -1
        index = int(fraction * (len(main.points) - 1))
        rivers.append(_tributary(spec, rng, main, index, side, number))
    return rivers


def _tributary(
    spec: RegionSpec, rng: np.random.Generator, main: River, index: int, side: int, number: int
) -> River:
    """A tributary drawn from the confluence outward (towards its source), then reversed."""
    confluence = main.points[index]
    edge = spec.north if side > 0 else spec.south
    length = (abs(edge - confluence[1]) - 0.1 * spec.extent_m) * rng.uniform(0.8, 0.95)
    along = np.linspace(0.0, length, 3000)
    wavelength = rng.uniform(500.0, 900.0)
    taper = np.clip(along / 150.0, 0.0, 1.0)
    lean = -0.25 * along  # sources lie upstream (west) of their confluence
    x = (
        confluence[0]
        + lean
        + taper * 0.1 * wavelength * np.sin(2 * np.pi * along / wavelength + rng.uniform(0, 6))
    )
    y = confluence[1] + side * along
    outward = _resample(np.column_stack([x, y]))
    points = outward[::-1]
    bed = main.bed_m[index] + TRIBUTARY_SLOPE * _distance_to_end(points)
    return River(f"t{number}", f"Tributary {number}", points, bed, "main", 60.0, 18.0)


def _resample(points: np.ndarray) -> np.ndarray:
    """Vertices every POINT_SPACING_M along the line (by arc length), ends kept."""
    steps = np.hypot(*np.diff(points, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    targets = np.linspace(0.0, arc[-1], max(2, int(arc[-1] / POINT_SPACING_M) + 1))
    return np.column_stack([np.interp(targets, arc, points[:, 0]), np.interp(targets, arc, points[:, 1])])


def _distance_to_end(points: np.ndarray) -> np.ndarray:
    """Distance along the line from each vertex to the last one."""
    steps = np.hypot(*np.diff(points, axis=0).T)
    return np.concatenate([np.cumsum(steps[::-1])[::-1], [0.0]])
