"""Polishing benchmark: our rules over 10 million observations, against SaQC on the same rules and data.

Run with ``python -m benchmarks.polishing`` (``make bench``). Data: 1141 stations x 2191 days x 4 meteo
variables = 10.0 million observations with noise, spikes, flatlines and gaps. Target (issue 5): ours at
most 5 s. The peer applies the same tests with SaQC (range, offset/spike, constants/flatline, alignment to
the daily index with limited linear interpolation) station by station, as SaQC works per series.
``--quick`` uses 50 stations.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchmarks.harness import child_report, compare, run_child, timed

MODULE = "benchmarks.polishing"
DAYS = 2191
VARIABLES = ("precipitation_mm", "air_temperature_c", "relative_humidity_pct", "air_pressure_hpa")


def make_observations(stations: int, path: Path) -> Path:
    """A wide daily table with the artefacts the rules target, written once as Parquet."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(5)
    day = np.arange(DAYS)
    season = np.cos(2 * np.pi * (day - 196) / 365.25)
    frames = []
    for station in range(stations):
        temperature = 8 + 10 * season + rng.normal(0, 2.5, DAYS)
        values = {
            "precipitation_mm": np.where(rng.uniform(size=DAYS) < 0.35, rng.gamma(0.75, 6, DAYS), 0.0),
            "air_temperature_c": temperature,
            "relative_humidity_pct": np.clip(80 - temperature * 0.5 + rng.normal(0, 5, DAYS), 20, 100),
            "air_pressure_hpa": 1000 + rng.normal(0, 6, DAYS),
        }
        spikes = rng.choice(DAYS, size=10, replace=False)
        values["air_temperature_c"][spikes] += 15
        start = int(rng.integers(10, DAYS - 20))
        values["air_pressure_hpa"][start : start + 8] = values["air_pressure_hpa"][start]
        keep = rng.uniform(size=DAYS) > 0.02
        frame = pl.DataFrame({"station": f"S{station:05d}", "time": day, **values}).filter(pl.Series(keep))
        frames.append(frame)
    table = pl.concat(frames).with_columns(
        time=(pl.lit(0).cast(pl.Datetime("us", "UTC")) + pl.duration(days=pl.col("time"))).dt.offset_by("48y")
    )
    table.write_parquet(path)
    return path


def ours(path: Path) -> dict[str, Any]:
    import polars as pl

    from landing_zone.defs.stations.polishing import polish

    wide = pl.read_parquet(path)
    result: dict[str, Any] = {}
    with timed(result):
        polished = polish(wide)
    result["observations"] = polished.height
    return result


def saqc_peer(path: Path) -> dict[str, Any]:
    import pandas as pd
    import polars as pl
    import saqc

    from landing_zone.defs.stations.rules import RULES

    stations = pl.read_parquet(path).to_pandas().set_index("time").groupby("station")
    result: dict[str, Any] = {}
    observations = 0
    with timed(result):
        for _, frame in stations:
            data = frame.drop(columns="station")
            qc = saqc.SaQC(data=pd.DataFrame(data))
            for variable in VARIABLES:
                rule = RULES[variable]
                qc = qc.flagRange(variable, min=rule.minimum, max=rule.maximum)
                if rule.spike_step is not None:
                    qc = qc.flagOffset(variable, window="2D", thresh=rule.spike_step)
                if rule.flatline_days is not None:
                    qc = qc.flagConstants(variable, window=rule.flatline_days, thresh=0)
                qc = qc.align(variable, freq="1D", method="time")
            observations += sum(len(qc.data[v]) for v in VARIABLES)
    result["observations"] = observations
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50 stations instead of 1141")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(".bench-cache/polishing"))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        subject, path = args.child
        child_report((ours if subject == "ours" else saqc_peer)(Path(path)))
        return
    stations = 50 if args.quick else 1141
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"observations-{stations}.parquet"
    if not path.exists():
        make_observations(stations, path)
    compare(
        "polishing.rules",
        ["ours", "saqc"],
        lambda subject: run_child(MODULE, [subject, str(path)]),
        args.rounds,
        {"size": f"{stations} stations x {DAYS} days x {len(VARIABLES)} variables"},
    )


if __name__ == "__main__":
    main()
