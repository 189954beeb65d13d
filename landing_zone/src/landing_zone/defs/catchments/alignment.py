"""Estimate the horizontal offset between river vectors and the DEM's drainage, and how sure we are.

River vectors are digitised from other sources than the DEM and sit a few metres off its drainage lines;
burning them in unshifted carves a second, parallel channel. The offset is found as the shift of the
vectors that best agrees with the DEM's own drainage: the mean of log flow accumulation (lightly
smoothed, so the objective is smooth) sampled along the shifted lines, maximised over a grid of
candidate shifts, then refined around the best one. Confidence compares the peak with the objective
elsewhere (how many robust standard deviations the best shift stands out), and the peak's width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class OffsetEstimate:
    """The vectors' offset from the DEM drainage (vectors = drainage + offset), in metres."""

    dx: float
    dy: float
    score: float
    confidence: float
    peak_width_m: float
    candidates: int

    @property
    def correction(self) -> tuple[float, float]:
        """The shift to apply to the vectors to put them on the DEM's drainage."""
        return (-self.dx, -self.dy)


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: origin of the north-west corner and cell size."""

    west: float
    north: float
    cell: float


def densify(lines: list[np.ndarray], spacing: float) -> np.ndarray:
    """Points every ``spacing`` metres along each line (vertices kept)."""
    points = []
    for line in lines:
        steps = np.hypot(*np.diff(line, axis=0).T)
        arc = np.concatenate([[0.0], np.cumsum(steps)])
        along = np.arange(0.0, arc[-1], spacing)
        points.append(np.column_stack([np.interp(along, arc, line[:, 0]), np.interp(along, arc, line[:, 1])]))
    return np.concatenate(points)


def estimate_offset(
    accumulation: np.ndarray, grid: Grid, lines: list[np.ndarray], search_m: float = 15.0, step_m: float = 1.0
) -> OffsetEstimate:
    """Best shift of ``lines`` onto high accumulation, searched within ``search_m`` in x and y."""
    field = ndimage.gaussian_filter(np.log1p(np.maximum(accumulation, 0.0)), sigma=1.0)
    points = densify(lines, grid.cell / 2)
    coarse = np.arange(-search_m, search_m + step_m / 2, step_m)
    scores = _scores(field, grid, points, coarse, coarse)
    best = np.unravel_index(np.argmax(scores), scores.shape)
    fine = np.arange(-step_m, step_m + 0.125, 0.125)
    dys, dxs = coarse[best[0]] + fine, coarse[best[1]] + fine
    refined = _scores(field, grid, points, dys, dxs)
    top = np.unravel_index(np.argmax(refined), refined.shape)
    spread = np.median(np.abs(scores - np.median(scores))) * 1.4826 or 1e-9
    half = scores > scores.max() - 0.5 * (scores.max() - np.median(scores))
    return OffsetEstimate(
        dx=float(dxs[top[1]]),
        dy=float(dys[top[0]]),
        score=float(refined.max()),
        confidence=float((scores.max() - np.median(scores)) / spread),
        peak_width_m=float(np.sqrt(half.sum()) * step_m),
        candidates=scores.size + refined.size,
    )


def _scores(
    field: np.ndarray, grid: Grid, points: np.ndarray, dys: np.ndarray, dxs: np.ndarray
) -> np.ndarray:
    """Mean field value along the points shifted back by each candidate offset (rows: dy, cols: dx)."""
    scores = np.empty((len(dys), len(dxs)))
    for i, dy in enumerate(dys):
        for j, dx in enumerate(dxs):
            cols = (points[:, 0] - dx - grid.west) / grid.cell - 0.5
            rows = (grid.north - (points[:, 1] - dy)) / grid.cell - 0.5
            scores[i, j] = ndimage.map_coordinates(field, [rows, cols], order=1, mode="nearest").mean()
    return scores
