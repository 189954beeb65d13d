"""Goodness-of-fit of a simulated discharge series against the observed one, in plain numpy.

Every metric takes two equally long 1-D arrays and scores only the days where both are finite (a gauge
with a gap is scored on the days it has), so the LSTM and the baseline are always scored on the same days.
They are written here rather than taken from NeuralHydrology so that the LSTM and the climatology baseline
go through exactly the same code, and so evaluation does not need scipy or xarray for a number.

Conventions (each tested against a known value in ``tests/discharge_model/test_metrics.py``):

- NSE (Nash and Sutcliffe 1970): 1 is perfect, 0 is as good as the observed mean, below 0 worse.
- KGE (Gupta et al. 2009) with its components r (Pearson correlation), alpha (std ratio sim/obs) and beta
  (mean ratio sim/obs); population standard deviations, as NeuralHydrology's ``kge``.
- bias: percent of the observed volume, ``100 * (sum(sim) - sum(obs)) / sum(obs)``; positive when the
  simulation carries too much water.
- peak timing: the mean absolute lag in days between the largest observed peaks and the simulated
  maximum within :data:`PEAK_WINDOW_DAYS` of each (the idea of NeuralHydrology's ``mean_peak_timing``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

PEAK_WINDOW_DAYS = 3
"""Days on either side of an observed peak searched for the simulated peak: NeuralHydrology's default for
daily data. A lag beyond it counts as the window's edge, so one missed event cannot dominate the mean."""

PEAK_SEPARATION_DAYS = 30
"""Peaks closer than this to a larger peak are the same flood event's shoulders and are not scored: about
the recession time of the region's slow reservoir (the generator's 40-day time constant), shorter than
NeuralHydrology's 100 steps so that a one-year test period still has several events."""

MAX_PEAKS = 5
"""The largest observed peaks scored per series (fewer when the series has fewer separated peaks)."""

MIN_DAYS = 2
"""Fewer valid days than this give NaN: no variance, no correlation."""


@dataclass(frozen=True)
class Scores:
    """Every metric of one simulated series against the observations (NaN where undefined)."""

    nse: float
    kge: float
    kge_r: float
    kge_alpha: float
    kge_beta: float
    bias_pct: float
    peak_timing_days: float
    valid_days: int

    def as_dict(self, prefix: str = "") -> dict[str, float | int]:
        """The scores as a flat record, each name prefixed (``lstm_nse``) for a per-basin table row."""
        return {f"{prefix}{name}": value for name, value in asdict(self).items()}


def _valid_pairs(
    observed: ArrayLike, simulated: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The days where both series are finite, after checking that the series are comparable."""
    obs = np.asarray(observed, dtype=np.float64)
    sim = np.asarray(simulated, dtype=np.float64)
    if obs.ndim != 1 or obs.shape != sim.shape:
        raise ValueError(f"observed {obs.shape} and simulated {sim.shape} must be 1-D series of equal length")
    valid = np.isfinite(obs) & np.isfinite(sim)
    return obs[valid], sim[valid]


def nse(observed: ArrayLike, simulated: ArrayLike) -> float:
    """Nash-Sutcliffe efficiency; NaN when the observations do not vary (the score divides by it)."""
    obs, sim = _valid_pairs(observed, simulated)
    if obs.size < MIN_DAYS:
        return float("nan")
    if np.ptp(obs) == 0:
        return float("nan")
    variance = float(np.sum((obs - obs.mean()) ** 2))
    return 1.0 - float(np.sum((sim - obs) ** 2)) / variance


def kge_components(observed: ArrayLike, simulated: ArrayLike) -> tuple[float, float, float, float]:
    """``(kge, r, alpha, beta)``; r is NaN when either series is constant, beta when the mean flow is 0."""
    obs, sim = _valid_pairs(observed, simulated)
    nan = float("nan")
    if obs.size < MIN_DAYS:
        return nan, nan, nan, nan
    obs_std, sim_std, obs_mean = float(obs.std()), float(sim.std()), float(obs.mean())
    # constancy by value, not by std: the std of identical values can come out as 1e-16, not 0
    obs_varies, sim_varies = bool(np.ptp(obs) > 0), bool(np.ptp(sim) > 0)
    r = (
        float(np.mean((obs - obs_mean) * (sim - sim.mean())) / (obs_std * sim_std))
        if obs_varies and sim_varies
        else nan
    )
    alpha = (sim_std if sim_varies else 0.0) / obs_std if obs_varies else nan
    beta = float(sim.mean()) / obs_mean if obs_mean else nan
    kge = 1.0 - float(np.sqrt((r - 1.0) ** 2 + (alpha - 1.0) ** 2 + (beta - 1.0) ** 2))
    return kge, r, alpha, beta


def percent_bias(observed: ArrayLike, simulated: ArrayLike) -> float:
    """Volume error in percent of the observed volume (positive: too much water); NaN for zero flow."""
    obs, sim = _valid_pairs(observed, simulated)
    total = float(obs.sum())
    if obs.size == 0 or total == 0.0:
        return float("nan")
    return 100.0 * (float(sim.sum()) - total) / total


def largest_peaks(
    observed: ArrayLike, count: int = MAX_PEAKS, separation: int = PEAK_SEPARATION_DAYS, margin: int = 0
) -> list[int]:
    """Indices of the ``count`` largest local maxima of the observations, largest first, each at least
    ``separation`` days from every larger one and ``margin`` days from either end of the series.

    A local maximum is higher than the day before and at least as high as the day after (the first day of
    a flat top). NaN days are never peaks and break the neighbourhood test around them.
    """
    obs = np.asarray(observed, dtype=np.float64)
    if obs.size < 3:
        return []
    middle, before, after = obs[1:-1], obs[:-2], obs[2:]
    with np.errstate(invalid="ignore"):
        is_peak = (middle > before) & (middle >= after)
    candidates = np.flatnonzero(is_peak) + 1
    candidates = candidates[(candidates >= margin) & (candidates < obs.size - margin)]
    chosen: list[int] = []
    for index in candidates[np.argsort(-obs[candidates], kind="stable")]:
        if all(abs(int(index) - kept) >= separation for kept in chosen):
            chosen.append(int(index))
            if len(chosen) == count:
                break
    return chosen


def peak_timing(
    observed: ArrayLike,
    simulated: ArrayLike,
    window: int = PEAK_WINDOW_DAYS,
    count: int = MAX_PEAKS,
    separation: int = PEAK_SEPARATION_DAYS,
) -> float:
    """Mean absolute lag (days) between the largest observed peaks and the simulated peak near each.

    For each of the :func:`largest_peaks` of the observations (at least ``window`` days from either end),
    the simulated peak is the simulated maximum within ``window`` days on either side; a window with a
    missing simulated day is skipped rather than scored on part of the window. NaN without a scored peak.
    """
    obs = np.asarray(observed, dtype=np.float64)
    sim = np.asarray(simulated, dtype=np.float64)
    if obs.ndim != 1 or obs.shape != sim.shape:
        raise ValueError(f"observed {obs.shape} and simulated {sim.shape} must be 1-D series of equal length")
    lags = []
    for peak in largest_peaks(obs, count, separation, margin=window):
        around = sim[peak - window : peak + window + 1]
        if not np.isfinite(around).all():
            continue
        lags.append(abs(int(np.argmax(around)) - window))
    return float(np.mean(lags)) if lags else float("nan")


def score(observed: ArrayLike, simulated: ArrayLike) -> Scores:
    """Every metric of one simulated series (see the module docstring for the definitions)."""
    kge, r, alpha, beta = kge_components(observed, simulated)
    obs, _ = _valid_pairs(observed, simulated)
    return Scores(
        nse=nse(observed, simulated),
        kge=kge,
        kge_r=r,
        kge_alpha=alpha,
        kge_beta=beta,
        bias_pct=percent_bias(observed, simulated),
        peak_timing_days=peak_timing(observed, simulated),
        valid_days=int(obs.size),
    )
