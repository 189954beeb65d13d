"""Forecast benchmarks on the bench region (40 km square), each against a peer in the same run:

- ``forecasts.decoding``: one GRIB2 run (2 m temperature and accumulated precipitation, 25 lead times on
  the generator's 0.025 degree model grid) decoded by ours (:func:`~landing_zone.defs.forecasts.grib_fields.
  decode_run` then :func:`~landing_zone.defs.forecasts.grib_fields.lead_fields`: every message's values,
  grid and run checked, precipitation de-accumulated) against plain ecCodes (each message's values
  reshaped to the grid, nothing checked) and GDAL (rasterio reading every band of the file). Target
  (issue 16): ours at most 1.2x plain ecCodes.
- ``forecasts.run_to_forecast``: one run from its GRIB2 file to the discharge forecast, stage by stage
  (decode and check, fields COGs on the 250 m analysis grid, catchment forecast forcings of the bench
  region's reach and progressive catchments, the LSTM forecast), with its peak RSS.

Run with ``python -m benchmarks.forecasts`` (``make bench``). ``--rounds`` repeats each subject
(interleaved, median reported).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from benchmarks.harness import child_report, compare, run_child, timed

MODULE = "benchmarks.forecasts"
SEED = 1
RUN = dt.datetime(2023, 12, 30, 0, tzinfo=dt.UTC)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path(".bench-cache/forecasts"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        subject, *values = args.child
        child_report(DECODERS[subject](Path(values[0])))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    grib = bench_run(args.workdir)
    compare(
        "forecasts.decoding",
        list(DECODERS),
        lambda subject: run_child(MODULE, [subject, str(grib)]),
        args.rounds,
        {"size": f"{grib.stat().st_size} bytes, run {RUN:%Y-%m-%d %H} UTC, bench region"},
    )


if __name__ == "__main__":
    main()
