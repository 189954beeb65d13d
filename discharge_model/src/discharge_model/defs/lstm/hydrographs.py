"""One hydrograph per gauge: observed, LSTM and climatology discharge, the test period shaded.

PNG, :data:`WIDTH_PX` x :data:`HEIGHT_PX`, rendered by matplotlib's Agg renderer through a bare
``Figure`` (no pyplot: no global figure state, no display or GUI toolkit needed in a pod). The bytes are
both stored beside the metrics and embedded as a base64 data URI in markdown metadata, which the Dagster
UI renders inline; the fixed size keeps each embed to tens of kB.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

WIDTH_PX = 800
HEIGHT_PX = 300
DPI = 100

OBSERVED_COLOUR = "black"
LSTM_COLOUR = "tab:blue"
CLIMATOLOGY_COLOUR = "tab:orange"


def hydrograph_png(
    title: str,
    dates: pd.DatetimeIndex,
    observed: np.ndarray,
    simulated: np.ndarray,
    climatology: np.ndarray,
    test_start: pd.Timestamp,
    test_end: pd.Timestamp,
    unit: str = "mm/day",
) -> bytes:
    """The hydrograph as PNG bytes; NaN days leave gaps in their line."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    axes = figure.add_subplot()
    axes.axvspan(test_start, test_end, color="0.92", zorder=0, label="test period")
    axes.plot(dates, observed, color=OBSERVED_COLOUR, linewidth=0.9, label="observed")
    axes.plot(dates, simulated, color=LSTM_COLOUR, linewidth=0.9, label="LSTM")
    axes.plot(
        dates, climatology, color=CLIMATOLOGY_COLOUR, linewidth=0.8, linestyle="--", label="climatology"
    )
    axes.set_title(title, fontsize=9)
    axes.set_ylabel(f"discharge ({unit})", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.set_xlim(dates.min(), dates.max())
    axes.legend(fontsize=7, loc="upper left", ncols=4, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """A markdown image of the PNG as a data URI, which the Dagster UI shows inline."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
