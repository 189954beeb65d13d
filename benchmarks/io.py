"""IO benchmarks: the Parquet IO manager against plain polars, and storage uploads against boto3.

Run with ``python -m benchmarks.io`` (``make bench``). Targets (issue 2): IO-manager write+read within
1.25x of ``polars.write_parquet`` + ``read_parquet`` on the same 5-million-row frame, and the storage
API's upload within 1.1x of ``boto3 upload_file`` on the same 200 MB file, both against a local
SeaweedFS started here. ``--quick`` shrinks the sizes for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import child_report, compare, run_child, timed

MODULE = "benchmarks.io"
BUCKET = "bench"


def make_frame(rows: int) -> Any:
    """A realistic observation table: station, timestamp, value, flag."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(42)
    return pl.DataFrame(
        {
            "station": pl.Series(rng.integers(0, 500, rows)).cast(pl.String),
            "time": pl.datetime_range(
                pl.datetime(2000, 1, 1),
                pl.datetime(2000, 1, 1) + pl.duration(hours=rows - 1),
                "1h",
                eager=True,
            ),
            "value": rng.normal(10.0, 5.0, rows),
            "flag": rng.integers(0, 5, rows).astype("int8"),
        }
    )


def warm_up(storage: Any) -> None:
    """Create the boto3 client before timing: a once-per-process cost the peers do not pay either."""
    if hasattr(storage, "client"):
        storage.client.list_objects_v2(Bucket=storage.bucket, MaxKeys=1)


def parquet_child(subject: str, rows: int, url: str) -> None:
    """Write and read the frame once, through the IO manager or plain polars."""
    import polars as pl
    from dagster import build_input_context, build_output_context

    from shared.io_managers.parquet import ParquetIOManager
    from shared.resources.storage import StorageResource

    frame = make_frame(rows)
    storage = StorageResource(url=url)
    result: dict[str, Any] = {}
    warm_up(storage.get_storage())
    if subject == "ours":
        manager = ParquetIOManager(storage=storage)
        output = build_output_context(asset_key=["bench", "observations"])
        input_context = build_input_context(asset_key=["bench", "observations"])
        with timed(result):
            manager.handle_output(output, frame)
            loaded = manager.load_input(input_context)
    else:
        store = storage.get_storage()
        path, options = store.polars_path("plain/part.parquet"), store.polars_options()
        if not path.startswith("s3://"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        with timed(result):
            frame.write_parquet(path, compression="zstd", compression_level=3, storage_options=options)
            loaded = pl.read_parquet(path, storage_options=options)
    assert loaded.height == rows
    child_report(result)


def upload_child(subject: str, source: str, url: str) -> None:
    """Upload one file through the storage API or boto3's own ``upload_file``."""
    import boto3

    from shared.storage import S3Storage

    storage = S3Storage(url, endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    warm_up(storage)
    result: dict[str, Any] = {}
    if subject == "ours":
        with timed(result):
            storage.put_file(Path(source), "upload/ours.bin")
    else:
        client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
        with timed(result):
            client.upload_file(source, storage.bucket, f"{storage.prefix}/upload/boto3.bin")
    child_report(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, subject, *rest = args.child
        if kind == "parquet":
            parquet_child(subject, int(rest[0]), rest[1])
        else:
            upload_child(subject, rest[0], rest[1])
        return
    run_all(quick=args.quick, rounds=1 if args.quick else args.rounds)


def run_all(quick: bool, rounds: int) -> None:
    from platform_dev.seaweedfs import run_seaweedfs

    rows = 200_000 if quick else 5_000_000
    upload_mb = 20 if quick else 200
    with tempfile.TemporaryDirectory(prefix="bench-io-") as scratch:
        workdir = Path(scratch)
        with run_seaweedfs(workdir / "seaweedfs", buckets=[BUCKET]) as server:
            env = os.environ | server.env()
            for target, url in (("local", str(workdir / "local")), ("s3", f"s3://{BUCKET}/io")):
                compare(
                    f"io.parquet_write_read.{target}",
                    ["ours", "polars"],
                    lambda subject, url=url: run_child(MODULE, ["parquet", subject, str(rows), url], env),
                    rounds,
                    {"size": f"{rows} rows x 4 columns", "storage": target},
                )
            source = workdir / "upload.bin"
            with source.open("wb") as handle:
                for _ in range(upload_mb):
                    handle.write(os.urandom(1024 * 1024))
            compare(
                "io.s3_upload",
                ["ours", "boto3"],
                lambda subject: run_child(MODULE, ["upload", subject, str(source), f"s3://{BUCKET}/up"], env),
                rounds,
                {"size": f"{upload_mb} MB"},
            )


if __name__ == "__main__":
    main()
