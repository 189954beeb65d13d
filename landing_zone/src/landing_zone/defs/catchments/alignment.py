"""Estimate the horizontal offset between river vectors and the DEM's drainage, and how sure we are.

River vectors are digitised from other sources than the DEM and sit off its drainage lines; burning them
in unshifted carves a second, parallel channel. The offset is found as the shift of the vectors that best
agrees with the DEM's valley lines: the *valley depth* (how far each cell lies below the mean of its
neighbourhood, lightly smoothed) averaged along the shifted lines.

Every length is counted in analysis cells, because the evidence is a raster: a shift finer than the
cells is interpolated, one far coarser wastes candidates. The search (:class:`SearchPlan`) tests every
whole-cell shift within the radius, then halves the step around the best shift, three candidates a side,
until it is at most a tenth of a cell: at two cells' radius 25 + 4 x 9 candidates, plus 25 for the
jackknife and 48 null shifts, whatever the cell size (a fixed metre lattice tested 8443 at 90 m cells).

Trust is judged against the score's own noise, not against the search window (which, two cells wide,
holds little besides the peak itself; measured on SRTM at 90 m, that prominence was 1.5-2 for exact
estimates):

- *Prominence*: how many standard deviations the best whole-cell score stands above the scores of the
  same lines displaced beyond the evidence's reach (:meth:`SearchPlan.null_shifts`). Lines unrelated to
  the terrain reach the best of the window's candidates by chance; the threshold is what such a best
  exceeds with probability :data:`FALSE_ALARM` if scores were normal (Bonferroni over the candidates):
  3.9 at two cells' radius, 4.5 at eight. Nominal only: few short lines have heavier tails (1 in 30 sets
  of three random walks passed it), which the second measure catches.
- *Uncertainty*: the jackknife standard error of the offset over pieces of line
  (:data:`JACKKNIFE_PIECE_CELLS`), in cells. Pieces that disagree (random lines, another region's
  rivers, one river whose valley is broader than its line) give half a cell or more; it must stay within
  :data:`MAX_UNCERTAINTY_CELLS`.

An estimate is *trusted* when the prominence reaches its threshold, the pieces agree and the estimate
lies within the search radius (beyond it the offset may be larger than searched). Only a trusted offset
is applied: an untrusted one would move the rivers by chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from landing_zone.defs.catchments.grid import Grid

VALLEY_WINDOW_CELLS = 5
EVIDENCE_SMOOTHING_CELLS = 1.0
"""Gaussian sigma over the valley depth: the score varies smoothly between candidates a cell apart."""
FINEST_STEP_CELLS = 0.1
"""The refinement stops at the first step at most this (1/16 cell): the rivers are burned into whole
cells, so a finer offset changes nothing downstream."""
MAX_SEARCH_CELLS = 32
"""Widest search radius: (2 x 32 + 1)^2 = 4225 whole-cell candidates bound the cost."""
NULL_DIRECTIONS = 16
NULL_RINGS_WINDOWS = (2, 3, 4)
"""Null shifts lie this many valley windows beyond the search radius, where valley depth no longer
sees the lines' own valley (its score decays to the background within about two windows)."""
FALSE_ALARM = 0.001
"""Chance that lines unrelated to the terrain are trusted on prominence alone."""
JACKKNIFE_PIECE_CELLS = 10 * VALLEY_WINDOW_CELLS
"""The jackknife leaves out pieces of line this long (shorter rivers whole): long against the valley
depth's reach (two windows), so pieces bring nearly independent evidence, and even one river has several."""
JACKKNIFE_STEPS = np.arange(-2, 3) * 0.5
"""Shifts (cells) around the estimate on which each leave-one-out peak is found."""
MAX_UNCERTAINTY_CELLS = 0.25
"""Jackknife standard error allowed: two standard errors stay within half a cell."""


@dataclass(frozen=True)
class SearchPlan:
    """Where to look for the offset on a grid of ``cell`` metres: every whole-cell shift within
    ``radius_cells``, then halving steps down to a tenth of a cell."""

    cell: float
    radius_cells: int

    @property
    def search_m(self) -> float:
        return self.radius_cells * self.cell

    def lattice(self) -> np.ndarray:
        """The whole-cell shifts along one axis, -radius..radius."""
        return np.arange(-self.radius_cells, self.radius_cells + 1, dtype=np.float64)

    def refinement_steps(self) -> list[float]:
        """Steps (cells) of the refinements after the whole-cell search: halved while above a tenth."""
        steps = [0.5]
        while steps[-1] > FINEST_STEP_CELLS:
            steps.append(steps[-1] / 2)
        return steps

    def null_shifts(self) -> np.ndarray:
        """(dx, dy) in cells, evenly around rings beyond the search window and the evidence's reach."""
        angles = np.linspace(0.0, 2 * np.pi, NULL_DIRECTIONS, endpoint=False)
        unit = np.column_stack([np.cos(angles), np.sin(angles)])
        return np.concatenate([unit * distance for distance in self.null_distances()])

    def null_distances(self) -> list[int]:
        return [self.radius_cells + k * VALLEY_WINDOW_CELLS for k in NULL_RINGS_WINDOWS]

    def prominence_threshold(self) -> float:
        """Standard deviations that the best of the window's candidates exceeds by chance with probability
        :data:`FALSE_ALARM` when the lines are unrelated to the terrain."""
        candidates = len(self.lattice()) ** 2
        return NormalDist().inv_cdf(1.0 - FALSE_ALARM / candidates)


def plan_search(
    cell: float, shape: tuple[int, int], search_cells: int = 2, min_search_m: float = 15.0
) -> SearchPlan:
    """The search radius (``search_cells``, at least ``min_search_m`` metres) on ``cell``-metre cells of a
    DEM of ``shape``, or a ValueError saying which setting to change when it cannot work there."""
    if not 1 <= search_cells <= MAX_SEARCH_CELLS:
        raise ValueError(
            f"search_cells={search_cells}: the offset search tests 1 to {MAX_SEARCH_CELLS} cells each way"
        )
    radius = max(search_cells, int(np.ceil(min_search_m / cell - 1e-9)))
    if radius > MAX_SEARCH_CELLS:
        raise ValueError(
            f"min_search_m={min_search_m:g} is {radius} cells of {cell:g} m, more than the "
            f"{MAX_SEARCH_CELLS} one offset search may test: lower min_search_m to at most "
            f"{MAX_SEARCH_CELLS * cell:g} m, or use an analysis grid of at least "
            f"{min_search_m / MAX_SEARCH_CELLS:g} m cells"
        )
    plan = SearchPlan(cell, radius)
    needed = 2 * max(plan.null_distances()) + 1
    if min(shape) < needed:
        raise ValueError(
            f"the DEM is {shape[0]} x {shape[1]} cells of {cell:g} m; an offset search of {radius} cells "
            f"judged against shifts of up to {max(plan.null_distances())} cells needs {needed} cells "
            f"across: lower min_search_m/search_cells, use a finer analysis grid or a larger region"
        )
    return plan


@dataclass(frozen=True)
class OffsetEstimate:
    """The vectors' offset from the DEM drainage (vectors = drainage + offset), in metres, and its trust."""

    dx: float
    dy: float
    score: float
    prominence: float
    prominence_threshold: float
    uncertainty_m: float | None
    cell_m: float
    search_m: float
    beyond_radius: bool
    candidates: int

    @property
    def uncertainty_cells(self) -> float | None:
        return None if self.uncertainty_m is None else self.uncertainty_m / self.cell_m

    def doubts(self) -> list[str]:
        """Why the estimate is not to be trusted (empty when it is)."""
        doubts = []
        if self.beyond_radius:
            doubts.append(f"best shift beyond the {self.search_m:g} m search radius: raise search_cells")
        if not self.prominence >= self.prominence_threshold:
            doubts.append(
                f"prominence {self.prominence:.1f} below {self.prominence_threshold:.1f}: the terrain does "
                "not single out this shift"
            )
        cells = self.uncertainty_cells
        if cells is not None and not cells <= MAX_UNCERTAINTY_CELLS:
            doubts.append(
                f"the rivers disagree: jackknife uncertainty {cells:.2f} cells > {MAX_UNCERTAINTY_CELLS}"
            )
        return doubts

    @property
    def trusted(self) -> bool:
        return not self.doubts()

    @property
    def correction(self) -> tuple[float, float]:
        """The shift to apply to the vectors to put them on the DEM's drainage: none unless trusted."""
        return (-self.dx, -self.dy) if self.trusted else (0.0, 0.0)

    def metadata(self) -> dict[str, float | int | bool | str | None]:
        """The estimate as the UI shows it: offset, correction applied, and how much to trust it."""
        correction = self.correction
        cells = self.uncertainty_cells
        return {
            "offset_dx_m": round(self.dx, 3),
            "offset_dy_m": round(self.dy, 3),
            "correction_dx_m": round(correction[0], 3),
            "correction_dy_m": round(correction[1], 3),
            "trusted": self.trusted,
            "doubts": "; ".join(self.doubts()) or "none",
            "prominence": round(self.prominence, 2),
            "prominence_threshold": round(self.prominence_threshold, 2),
            "uncertainty_m": None if self.uncertainty_m is None else round(self.uncertainty_m, 3),
            "uncertainty_cells": None if cells is None else round(cells, 4),
            "cell_m": self.cell_m,
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


@dataclass(frozen=True)
class LineSamples:
    """Points every half cell along the lines, in fractional (row, col) of the field, and the piece of
    line each belongs to (:data:`JACKKNIFE_PIECE_CELLS`)."""

    rows: np.ndarray
    cols: np.ndarray
    piece: np.ndarray
    pieces: int

    @classmethod
    def along(cls, lines: list[np.ndarray], grid: Grid) -> LineSamples:
        per_line = _densified(lines, grid.cell / 2)
        points = np.concatenate(per_line)
        per_piece = 2 * JACKKNIFE_PIECE_CELLS
        counts = [max(1, round(len(p) / per_piece)) for p in per_line]
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        piece = [
            start + np.arange(len(p)) * count // len(p)
            for p, start, count in zip(per_line, first, counts, strict=True)
        ]
        return cls(
            rows=(grid.north - points[:, 1]) / grid.cell - 0.5,
            cols=(points[:, 0] - grid.west) / grid.cell - 0.5,
            piece=np.concatenate(piece),
            pieces=int(sum(counts)),
        )

    @property
    def total(self) -> int:
        return len(self.piece)

    def sums(self, field: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """Field summed per piece along the points shifted back by each (dx, dy) in cells: (shift, piece).

        Off the grid the field counts as 0, like nodata: a line there has no evidence."""
        from scipy import ndimage

        sums = np.empty((len(shifts), self.pieces))
        for k, (dx, dy) in enumerate(shifts):
            values = ndimage.map_coordinates(
                field, [self.rows + dy, self.cols - dx], order=1, mode="constant", cval=0.0
            )
            sums[k] = np.bincount(self.piece, weights=values, minlength=self.pieces)
        return sums

    def scores(self, field: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """Mean field along all lines for each shift."""
        return self.sums(field, shifts).sum(axis=-1) / self.total


def estimate_offset(
    evidence: np.ndarray, grid: Grid, lines: list[np.ndarray], plan: SearchPlan | None = None
) -> OffsetEstimate:
    """Best shift of ``lines`` onto high ``evidence`` (valley depth) following ``plan`` (by default two
    cells, at least 15 m), with its prominence over far shifts and its jackknife uncertainty."""
    from scipy import ndimage

    plan = plan or plan_search(grid.cell, evidence.shape)
    field = ndimage.gaussian_filter(evidence, sigma=EVIDENCE_SMOOTHING_CELLS)
    samples = LineSamples.along(lines, grid)
    lattice = np.array([(dx, dy) for dy in plan.lattice() for dx in plan.lattice()])
    scores = samples.scores(field, lattice)
    best = int(np.argmax(scores))
    (dx, dy), score, refined = _refine(field, samples, (lattice[best, 0], lattice[best, 1]), plan)
    null = samples.scores(field, plan.null_shifts())
    spread = float(null.std(ddof=1))
    uncertainty = _jackknife_error(field, samples, (dx, dy))
    return OffsetEstimate(
        dx=dx * grid.cell,
        dy=dy * grid.cell,
        score=score,
        prominence=float(scores[best] - null.mean()) / spread if spread > 0 else 0.0,
        prominence_threshold=plan.prominence_threshold(),
        uncertainty_m=None if uncertainty is None else uncertainty * grid.cell,
        cell_m=grid.cell,
        search_m=plan.search_m,
        beyond_radius=max(abs(dx), abs(dy)) > plan.radius_cells,
        candidates=len(scores)
        + refined
        + len(null)
        + (0 if uncertainty is None else JACKKNIFE_STEPS.size**2),
    )


def _refine(
    field: np.ndarray, samples: LineSamples, center: tuple[float, float], plan: SearchPlan
) -> tuple[tuple[float, float], float, int]:
    """Best shift (cells) after halving the step around ``center``, three candidates a side each time;
    with its score and the number of candidates tested. The search may step past the radius by less
    than a cell: an estimate beyond it says the offset may be larger than searched."""
    around = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=np.float64)
    score, tested = -np.inf, 0
    for step in plan.refinement_steps():
        shifts = np.asarray(center) + around * step
        scores = samples.scores(field, shifts)
        tested += len(shifts)
        best = int(np.argmax(scores))
        center, score = (float(shifts[best, 0]), float(shifts[best, 1])), float(scores[best])
    return center, score, tested


def _jackknife_error(field: np.ndarray, samples: LineSamples, center: tuple[float, float]) -> float | None:
    """Jackknife standard error (cells) of the offset over pieces of line; None with a single piece.

    Each leave-one-out offset is the parabolic peak of the scores on a half-cell patch around the
    estimate (:data:`JACKKNIFE_STEPS`): pieces that agree move it by hundredths of a cell, pieces that
    do not push it to the patch's edge, a cell away, which no threshold mistakes for agreement."""
    n = samples.pieces
    if n < 2:
        return None
    steps = JACKKNIFE_STEPS
    shifts = np.array([(center[0] + dx, center[1] + dy) for dy in steps for dx in steps])
    sums = samples.sums(field, shifts).reshape(len(steps), len(steps), n)
    counts = np.bincount(samples.piece, minlength=n).astype(np.float64)
    total, total_count = sums.sum(axis=-1), counts.sum()
    estimates = np.array([_peak((total - sums[..., i]) / (total_count - counts[i]), steps) for i in range(n)])
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
