"""Forecast benchmarks on the bench region (40 km square):

- ``forecasts.decoding``: one GRIB2 run (2 m temperature and accumulated precipitation, 25 lead times on
  the generator's 0.025 degree model grid) decoded by ours (:func:`~landing_zone.defs.forecasts.grib_fields.
  decode_run` then :func:`~landing_zone.defs.forecasts.grib_fields.lead_fields`: every message's values,
  grid and run checked, precipitation de-accumulated) against plain ecCodes (each message's values
  reshaped to the grid, nothing checked) and GDAL (rasterio reading every band of the file), each
  subject in its own process, interleaved over ``--rounds``, median reported. Target (issue 16): ours at
  most 1.2x plain ecCodes.
- ``forecasts.run_to_forecast``: one run carried from its GRIB2 file to the discharge forecast by the
  platform's own assets and resources (:func:`platform_dev.workspace.joined_definitions`), in one Dagster
  run of ``forecast/grib/raw``, ``forecast/grib/fields`` (decode, four blocking checks, COGs on the 250 m
  analysis grid), ``features/catchment_forecast_forcings`` (every reach and progressive catchment, its
  blocking checks) and ``discharge_model/discharge_forecast`` (the promoted LSTM through NeuralHydrology,
  local inflows, reaches.fgb), on a local storage root (``PLATFORM_STORAGE_URL``) in a fresh process:
  wall time of the run and of each step (from the run's event log), peak RSS, grid cells, catchments,
  lead days. What the run reads is made beforehand in another process (:mod:`benchmarks._forecast_inputs`:
  a model trained and promoted on the small sample region, then a lattice river tree of
  ``--side`` x ``--side`` reaches over the bench square, 40 x 40 by default, 20 x 20 with ``--quick``).
  The timed process has the code locations loaded; the first imports of GDAL, ecCodes, torch and
  NeuralHydrology inside the steps are timed, as a run worker pays them.

Run with ``python -m benchmarks.forecasts`` (``make bench``); ``--quick`` for the small tree. Temporary
storage and Dagster instance live under ``--workdir``; the sample region is built there once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.harness import child_report, compare, run_child, timed

if TYPE_CHECKING:
    import dagster as dg

MODULE = "benchmarks.forecasts"
SEED = 1
SAMPLE_SEED = 7
"""The small sample region the model is trained on: the discharge model's tests' seed, whose model they
show is promoted."""
RUN = dt.datetime(2023, 12, 30, 0, tzinfo=dt.UTC)
SIDE, QUICK_SIDE = 40, 20
"""Reaches per side of the lattice tree: 1600, or 400 quick. The features benchmark's 6000 catchments
(``--side 80``) take over half an hour in the discharge forecast, whose NeuralHydrology tester builds a
dataset per basin (measured: 239 s of 243 s at 1600 reaches); 1600 keeps ``make bench`` to minutes."""
STAGES = {
    "forecast__grib__raw": "raw",
    "forecast__grib__fields": "fields",
    "features__catchment_forecast_forcings": "forecast_forcings",
    "discharge_model__discharge_forecast": "discharge_forecast",
}
"""The run's steps, in order, by the name reported."""


def bench_run(workdir: Path) -> Path:
    """The bench region's GRIB2 file of :data:`RUN`, written once."""
    from platform_dev.sample_region.grib import forecast_path, write_forecast_runs
    from platform_dev.sample_region.spec import RegionSpec

    path = forecast_path(workdir / "runs", RUN)
    if not path.exists():
        write_forecast_runs(RegionSpec.for_size("bench", SEED), workdir / "runs", [RUN])
    return path


def decode_ours(path: Path) -> dict[str, Any]:
    import pyogrio  # noqa: F401  (what decode_run imports on its first call, outside the timing as for the peers)
    import pyproj  # noqa: F401
    import rasterio  # noqa: F401

    # isort: split
    import eccodes  # noqa: F401

    from landing_zone.defs.forecasts.grib_fields import decode_run, lead_fields

    result: dict[str, Any] = {}
    with timed(result):
        run = decode_run(path)
        fields = lead_fields(run)
    result["values"] = int(sum(field.values.size for field in fields.values()))
    return result


def decode_eccodes(path: Path) -> dict[str, Any]:
    """What a plain script does: every message's values as a (rows, columns) array, keyed by name and step."""
    import numpy as np
    import pyogrio  # noqa: F401  (before ecCodes, as in ours: its wheel loads its own PROJ)
    import pyproj  # noqa: F401
    import rasterio  # noqa: F401

    # isort: split
    import eccodes

    result: dict[str, Any] = {}
    fields: dict[tuple[str, int], np.ndarray] = {}
    with timed(result), path.open("rb") as stream:
        while (handle := eccodes.codes_grib_new_from_file(stream)) is not None:
            shape = (eccodes.codes_get(handle, "Nj"), eccodes.codes_get(handle, "Ni"))
            key = (eccodes.codes_get(handle, "shortName"), eccodes.codes_get(handle, "endStep", int))
            fields[key] = eccodes.codes_get_values(handle).reshape(shape)
            eccodes.codes_release(handle)
    result["values"] = int(sum(field.size for field in fields.values()))
    return result


def decode_gdal(path: Path) -> dict[str, Any]:
    """GDAL's GRIB driver through rasterio: every band read."""
    import rasterio

    result: dict[str, Any] = {}
    with timed(result), rasterio.open(path) as dataset:
        values = dataset.read()
    result["values"] = int(values.size)
    return result


DECODERS = {"decode_ours": decode_ours, "decode_eccodes": decode_eccodes, "decode_gdal": decode_gdal}


def sample_region(workdir: Path) -> Path:
    """The small sample region the model is trained on, built once."""
    from platform_dev.sample_region.build import build_region
    from platform_dev.sample_region.spec import RegionSpec

    out = workdir / f"sample-small-{SAMPLE_SEED}"
    if not (out / "truth" / "manifest.json").exists():
        build_region(RegionSpec.for_size("small", SAMPLE_SEED), out)
    return out


def chain_environment(root: Path, runs: Path) -> dict[str, str]:
    """Both children's environment: the storage root, the runs' folder as the forecasts source, a Dagster
    home of their own."""
    (root / "dagster").mkdir(parents=True, exist_ok=True)
    return os.environ | {
        "PLATFORM_ENV": "local",
        "PLATFORM_STORAGE_URL": str(root / "storage"),
        "DAGSTER_HOME": str(root / "dagster"),
        "SOURCE_FORECASTS_URL": f"{runs.as_uri()}/",
    }


def prepare_chain(sample: Path, side: int, workdir: Path) -> dict[str, Any]:
    """Child: the model trained and promoted, then the bench region's inputs (:mod:`.forecast_inputs`)."""
    from benchmarks._forecast_inputs import put_bench_region, train_model
    from platform_dev.sample_region.spec import RegionSpec
    from platform_dev.workspace import joined_definitions
    from shared.resources.platform import storage_resource

    storage = storage_resource()
    result: dict[str, Any] = {}
    with timed(result):
        train_model(storage, sample, joined_definitions())
        net = put_bench_region(storage, sample, RegionSpec.for_size("bench", SEED), side, RUN, workdir)
    return result | {"reaches": net.reaches.frame.height}


def run_to_forecast() -> dict[str, Any]:
    """Child: the run's four assets in one Dagster run, timed; its steps' durations and sizes."""
    import dagster as dg

    from landing_zone.defs.forecasts.keys import FORECAST_GRIB_FIELDS, FORECAST_GRIB_RAW
    from landing_zone.defs.forecasts.raw_runs import partition_key
    from platform_dev.forecast_cycles import materialise
    from platform_dev.workspace import joined_definitions
    from shared.assets.discharge_model import DISCHARGE_FORECAST
    from shared.assets.landing_zone import CATCHMENT_FORECAST_FORCINGS

    defs = joined_definitions()
    instance = dg.DagsterInstance.ephemeral()
    chain = [FORECAST_GRIB_RAW, FORECAST_GRIB_FIELDS, CATCHMENT_FORECAST_FORCINGS, DISCHARGE_FORECAST]
    result: dict[str, Any] = {}
    with timed(result):
        materialise(defs, instance, chain, partition_key(RUN), {})
    (run,) = instance.get_runs(limit=1)
    result["stages"] = step_seconds(instance, run.run_id)
    size = str(recorded(instance, FORECAST_GRIB_FIELDS, "size"))
    width, height = (int(n) for n in size.split("x"))
    return result | {
        "grid_cells": width * height,
        "grid": size,
        "catchments": recorded(instance, CATCHMENT_FORECAST_FORCINGS, "catchments"),
        "forecast_catchments": recorded(instance, DISCHARGE_FORECAST, "catchments"),
        "lead_days": recorded(instance, DISCHARGE_FORECAST, "lead_days"),
    }


def recorded(instance: dg.DagsterInstance, key: dg.AssetKey, name: str) -> Any:
    """A metadata value of the asset's latest materialisation."""
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        raise RuntimeError(f"{key.to_user_string()} has no materialisation in the benchmark's instance")
    return event.asset_materialization.metadata[name].value


def step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Each step's seconds from its start to its success in the run's event log."""
    import dagster as dg

    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key not in STAGES:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            seconds[STAGES[event.step_key]] = round(entry.timestamp - started[event.step_key], 3)
    return seconds


def bench_chain(workdir: Path, side: int, grib: Path) -> dict[str, Any]:
    """Inputs made in one child, the run timed in another (its own peak RSS); one JSON line printed."""
    root = workdir / "chain"
    shutil.rmtree(root, ignore_errors=True)
    env = chain_environment(root, grib.parents[2])
    sample = sample_region(workdir)
    prepared = run_child(MODULE, ["prepare_chain", str(sample), str(side), str(root)], env)
    measured = run_child(MODULE, ["run_to_forecast"], env)
    line = {
        "benchmark": "forecasts.run_to_forecast",
        "subject": "ours",
        "wall_s": round(measured.pop("wall_s"), 3),
        "peak_rss_mb": round(measured.pop("peak_rss_mb"), 1),
        **measured,
        "reaches": prepared["reaches"],
        "setup_s": round(prepared["wall_s"], 1),
        "size": f"run {RUN:%Y-%m-%d %H} UTC, bench region, {side} x {side} lattice tree",
    }
    print(json.dumps(line), flush=True)
    return line


def child(subject: str, values: list[str]) -> dict[str, Any]:
    """What a child process measures, by subject."""
    if subject in DECODERS:
        return DECODERS[subject](Path(values[0]))
    if subject == "prepare_chain":
        return prepare_chain(Path(values[0]), int(values[1]), Path(values[2]))
    if subject == "run_to_forecast":
        return run_to_forecast()
    raise ValueError(f"unknown benchmark subject {subject!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path(".bench-cache/forecasts"))
    parser.add_argument("--quick", action="store_true", help=f"a {QUICK_SIDE} x {QUICK_SIDE} tree")
    parser.add_argument("--side", type=int, help=f"reaches per side of the tree (default {SIDE})")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        subject, *values = args.child
        child_report(child(subject, values))
        return
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    grib = bench_run(args.workdir)
    compare(
        "forecasts.decoding",
        list(DECODERS),
        lambda subject: run_child(MODULE, [subject, str(grib)]),
        args.rounds,
        {"size": f"{grib.stat().st_size} bytes, run {RUN:%Y-%m-%d %H} UTC, bench region"},
    )
    bench_chain(args.workdir, args.side or (QUICK_SIDE if args.quick else SIDE), grib)


if __name__ == "__main__":
    main()
