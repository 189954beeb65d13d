"""Estimate the horizontal offset between river vectors and the DEM's drainage, and how sure we are.

River vectors are digitised from other sources than the DEM and sit a few metres off its drainage lines;
burning them in unshifted carves a second, parallel channel. The offset is found as the shift of the
vectors that best agrees with the DEM's valley lines: the *valley depth* (how far each cell lies below
the mean of its neighbourhood, lightly smoothed) averaged along the shifted lines, maximised over a
coarse grid of candidate shifts and refined twice around the best one.

Valley depth needs no depression filling or flow routing, so it costs one moving average, and on the
sample regions it beats flow accumulation as evidence: 0.06 m error against 0.3-0.5 m (issue 6 notes).

Two measures of trust go with it. *Prominence*: how many robust standard deviations the best score
stands above the scores elsewhere in the search window (a flat objective means the DEM says nothing).
*Uncertainty*: the jackknife standard error over rivers (the estimate repeated leaving out one river at
a time): if rivers disagree, the offset is not one rigid shift and the error says by how much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landing_zone.defs.catchments.grid import Grid

MEDIUM_STEP_M = 1.0
FINE_STEP_M = 0.125
VALLEY_WINDOW_CELLS = 5


@dataclass(frozen=True)
class OffsetEstimate:
    """The vectors' offset from the DEM drainage (vectors = drainage + offset), in metres."""

    dx: float
    dy: float
    score: float
    prominence: float
    uncertainty_m: float | None
    peak_width_m: float
    search_m: float
    candidates: int

    @property
    def correction(self) -> tuple[float, float]:
        """The shift to apply to the vectors to put them on the DEM's drainage."""
        return (-self.dx, -self.dy)

    def metadata(self) -> dict[str, float | int | None]:
        """The estimate as the UI shows it: offset, correction applied, and how much to trust it."""
        return {
            "offset_dx_m": round(self.dx, 3),
            "offset_dy_m": round(self.dy, 3),
            "correction_dx_m": round(-self.dx, 3),
            "correction_dy_m": round(-self.dy, 3),
            "prominence": round(self.prominence, 2),
            "uncertainty_m": None if self.uncertainty_m is None else round(self.uncertainty_m, 3),
            "peak_width_m": round(self.peak_width_m, 2),
            "search_m": self.search_m,
            "candidates": self.candidates,
        }


def densify(lines: list[np.ndarray], spacing: float) -> np.ndarray:
    """Points every ``spacing`` metres along each line, its last vertex included."""
    return np.concatenate(_densified(lines, spacing))


def _densified(lines: list[np.ndarray], spacing: float) -> list[np.ndarray]:
    points = []
    for line in lines:
        steps = np.hypot(*np.diff(line, axis=0).T)
        arc = np.concatenate([[0.0], np.cumsum(steps)])
        along = np.append(np.arange(0.0, arc[-1], spacing), arc[-1])
        points.append(np.column_stack([np.interp(along, arc, line[:, 0]), np.interp(along, arc, line[:, 1])]))
    return points


def valley_depth(dem: np.ndarray, nodata: float, window_cells: int = VALLEY_WINDOW_CELLS) -> np.ndarray:
    """Depth of each cell below the mean of its ``window_cells`` neighbourhood (0 on ridges and slopes).

    float32 throughout: the filters run three times faster than in float64 and centimetres are plenty.
    """
    from scipy import ndimage  # scipy loads only when delineating, not with the code location

    valid = dem != nodata
    filled = np.where(valid, dem, dem[valid].mean() if valid.any() else 0.0).astype(np.float32)
    depth = ndimage.uniform_filter(filled, size=window_cells) - filled
    return np.where(valid, np.maximum(depth, 0.0), 0.0).astype(np.float32)


def estimate_offset(
    evidence: np.ndarray, grid: Grid, lines: list[np.ndarray], search_m: float = 15.0
) -> OffsetEstimate:
    """Best shift of ``lines`` onto high ``evidence`` (valley depth), within ``search_m`` (at least two
    cells) in x and y: a coarse search at half a cell, then a 1 m refinement within one coarse step of
    the best and a 0.125 m one within half a metre."""
    from scipy import ndimage

    field = ndimage.gaussian_filter(evidence, sigma=1.0)
    per_line = _densified(lines, grid.cell / 2)
    points = np.concatenate(per_line)
    owner = np.repeat(np.arange(len(per_line)), [len(p) for p in per_line])
    counts = np.bincount(owner, minlength=len(per_line)).astype(np.float64)

    def level(center: tuple[float, float], half: float, step: float) -> tuple[np.ndarray, np.ndarray]:
        offsets = np.arange(-half, half + step / 2, step)
        dxs, dys = center[0] + offsets, center[1] + offsets
        return _line_sums(field, grid, points, owner, len(per_line), dys, dxs), offsets

    search, coarse_step = max(search_m, 2 * grid.cell), max(grid.cell / 2, MEDIUM_STEP_M)
    coarse_sums, coarse = level((0.0, 0.0), search, coarse_step)
    scores = coarse_sums.sum(axis=-1) / counts.sum()
    row, col = np.unravel_index(np.argmax(scores), scores.shape)
    medium_sums, medium = level((coarse[col], coarse[row]), coarse_step, MEDIUM_STEP_M)
    medium_scores = medium_sums.sum(axis=-1) / counts.sum()
    m_row, m_col = np.unravel_index(np.argmax(medium_scores), medium_scores.shape)
    center = (coarse[col] + medium[m_col], coarse[row] + medium[m_row])
    fine_sums, fine = level(center, MEDIUM_STEP_M / 2, FINE_STEP_M)
    refined = fine_sums.sum(axis=-1) / counts.sum()
    top = np.unravel_index(np.argmax(refined), refined.shape)
    spread = np.median(np.abs(scores - np.median(scores))) * 1.4826 or 1e-9
    half = scores > scores.max() - 0.5 * (scores.max() - np.median(scores))
    return OffsetEstimate(
        dx=float(center[0] + fine[top[1]]),
        dy=float(center[1] + fine[top[0]]),
        score=float(refined.max()),
        prominence=float((scores.max() - np.median(scores)) / spread),
        uncertainty_m=_jackknife_error(medium_sums, counts, medium),
        peak_width_m=float(np.sqrt(half.sum()) * coarse_step),
        search_m=float(search),
        candidates=scores.size + medium_scores.size + refined.size,
    )


def _jackknife_error(sums: np.ndarray, counts: np.ndarray, candidates: np.ndarray) -> float | None:
    """Jackknife standard error (metres) of the offset over lines; None with fewer than two lines."""
    n = len(counts)
    if n < 2:
        return None
    total, total_count = sums.sum(axis=-1), counts.sum()
    estimates = np.array(
        [_peak((total - sums[..., i]) / (total_count - counts[i]), candidates) for i in range(n)]
    )
    variance = (n - 1) / n * ((estimates - estimates.mean(axis=0)) ** 2).sum(axis=0)
    return float(np.hypot(*np.sqrt(variance)))


def _peak(scores: np.ndarray, candidates: np.ndarray) -> tuple[float, float]:
    """(dx, dy) of the best candidate, refined by a parabola through its neighbours on each axis."""
    row, col = (int(i) for i in np.unravel_index(np.argmax(scores), scores.shape))
    step = candidates[1] - candidates[0]
    return (
        candidates[col] + _vertex(scores[row, :], col) * step,
        candidates[row] + _vertex(scores[:, col], row) * step,
    )


def _vertex(profile: np.ndarray, at: int) -> float:
    """Sub-step position of a parabola's vertex through ``profile[at-1:at+2]`` (0 at the edges)."""
    if at == 0 or at == len(profile) - 1:
        return 0.0
    left, middle, right = profile[at - 1 : at + 2]
    curvature = left - 2 * middle + right
    return float(0.5 * (left - right) / curvature) if curvature < 0 else 0.0


def _line_sums(
    field: np.ndarray,
    grid: Grid,
    points: np.ndarray,
    owner: np.ndarray,
    lines: int,
    dys: np.ndarray,
    dxs: np.ndarray,
) -> np.ndarray:
    """Field values summed per line along the points shifted back by each candidate (dy, dx, line)."""
    from scipy import ndimage

    sums = np.empty((len(dys), len(dxs), lines))
    for i, dy in enumerate(dys):
        for j, dx in enumerate(dxs):
            cols = (points[:, 0] - dx - grid.west) / grid.cell - 0.5
            rows = (grid.north - (points[:, 1] - dy)) / grid.cell - 0.5
            values = ndimage.map_coordinates(field, [rows, cols], order=1, mode="nearest")
            sums[i, j] = np.bincount(owner, weights=values, minlength=lines)
    return sums
