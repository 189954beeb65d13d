"""The elevation pipeline against a hostile provider, on local storage and S3: nineteen kinds of
defective tiles and tile URLs delivered at once, after a good run.

Each defect has its expected outcome: a tile the pipeline cannot use keeps its last published version
with a reason naming the tile and what was wrong; a URL that leaves the provider is refused before
anything is read; a tile with implausible values makes its sheet's blocking check fail, so the sheet's
candidate is kept and not published. Whatever happens, what analysts and downstream read (the DTM and
every tile a published table lists) stays byte-identical, and no stored object holds the pipeline's
secret or a system file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import rasterio

from shared.resources.storage import StorageResource
from shared.storage import Storage
from tests.elevation.test_pipeline import SHEETS, definitions
from tests.elevation.test_publication import provider_copy, published_state, run_sheets_and_consolidate


@dataclass(frozen=True)
class Defect:
    """One hostile delivery of a tile: new content and/or URL, and where its outcome shows."""

    tile_id: str
    kind: str
    outcome: str  # raw_kept | converted_kept | sheet_rejected
    expected: str  # a substring of the recorded reason, or the failing check's name
    content: Callable[[bytes, Path], bytes] | None = None
    url: str | None = None


def spiked_asc(original: bytes, _: Path) -> bytes:
    """The first value of the grid replaced by 8848 m."""
    head, values = original.split(b"NODATA_value -9999\n", 1)
    return head + b"NODATA_value -9999\n" + b"8848.000 " + values.split(b" ", 1)[1]


def raster_like(values: Callable[[np.ndarray], np.ndarray], shape_divider: int = 1):
    """A GeoTIFF made from the original's values (transformed), optionally with fewer cells."""

    def build(_: bytes, original: Path) -> bytes:
        with rasterio.open(original) as dataset:
            profile, grid = dataset.profile, dataset.read(1)
        grid = values(grid)[::shape_divider, ::shape_divider]
        profile.update(width=grid.shape[1], height=grid.shape[0])
        target = original.with_name(f"hostile-{original.name}")
        with rasterio.open(target, "w", **profile) as dataset:
            dataset.write(grid, 1)
        return target.read_bytes()

    return build


DEFECTS = [
    Defect("M-34-56-A-1", "zero-byte GeoTIFF", "converted_kept", "zero-byte file", lambda b, p: b""),
    Defect("M-34-56-A-2", "truncated ASC", "converted_kept", "truncated ASC", lambda b, p: b[: len(b) // 2]),
    Defect("M-34-56-A-3", "binary XYZ", "converted_kept", "XYZ", lambda b, p: os.urandom(4096)),
    Defect(
        "M-34-56-A-4",
        "XYZ off the grid",
        "converted_kept",
        "irregular XYZ",
        lambda b, p: b.replace(b".000 ", b".700 ", 1),
    ),
    Defect(
        "M-34-56-B-1", "truncated GeoTIFF", "converted_kept", "unreadable tif", lambda b, p: b[: len(b) // 2]
    ),
    Defect(
        "M-34-56-B-2",
        "ASC without cellsize",
        "converted_kept",
        "ASC header lacks ['cellsize']",
        lambda b, p: b.replace(b"cellsize 2.000\n", b""),
    ),
    Defect(
        "M-34-56-B-3",
        "URL to the process environment",
        "raw_kept",
        "refused",
        url="file:///proc/self/environ",
    ),
    Defect(
        "M-34-56-B-4",
        "relative URL escaping the provider",
        "raw_kept",
        "refused",
        url="../../../../../../../../etc/passwd",
    ),
    Defect(
        "M-34-56-C-1",
        "percent-encoded escape",
        "raw_kept",
        "refused",
        url="tiles/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    ),
    Defect(
        "M-34-56-C-2",
        "XYZ points outside the footprint",
        "converted_kept",
        "against the index footprint",
        lambda b, p: b + b"\n" + b"560001.000 9999999.000 100.000\n",
    ),
    Defect(
        "M-34-56-C-3",
        "URL of a file the provider does not have",
        "raw_kept",
        "download failed",
        url="tiles/v1/missing.asc",
    ),
    Defect(
        "M-34-56-C-4",
        "mis-sized GeoTIFF",
        "converted_kept",
        "differ from the index footprint",
        raster_like(lambda grid: grid, shape_divider=2),
    ),
    Defect("M-34-57-A-1", "8848 m spike", "sheet_rejected", "plausible_values", spiked_asc),
    Defect(
        "M-34-57-C-1",
        "GeoTIFF without a single value",
        "converted_kept",
        "no valid cells",
        raster_like(lambda grid: np.full_like(grid, -9999.0)),
    ),
    Defect("M-34-57-C-3", "absolute path", "raw_kept", "refused", url="/etc/passwd"),
    Defect(
        "M-34-57-C-4",
        "HTML error page instead of XYZ",
        "converted_kept",
        "XYZ",
        lambda b, p: b"<html><body>502 Bad Gateway</body></html>\n",
    ),
    Defect(
        "M-34-58-A-4",
        "900 m deep pit",
        "sheet_rejected",
        "plausible_values",
        raster_like(lambda g: g - 900.0),
    ),
    Defect(
        "M-34-58-C-1",
        "URL switching to another scheme",
        "raw_kept",
        "refused",
        url="http://127.0.0.1:9/x.asc",
    ),
    Defect(
        "M-34-58-C-2",
        "ASC with more values than its header",
        "converted_kept",
        "expected 250000 values",
        lambda b, p: b + b"1.0 2.0 3.0\n",
    ),
]


def deliver(provider: Path, defects: list[Defect]) -> None:
    """The provider publishes the defective versions: new bytes and/or URLs, new update times."""
    index_path = provider / "elevation" / "dtm" / "index_v2.geojson"
    index = json.loads(index_path.read_text())
    by_tile = {defect.tile_id: defect for defect in defects}
    for feature in index["features"]:
        properties = feature["properties"]
        defect = by_tile.get(properties["tile_id"])
        if defect is None:
            continue
        properties["updated"] = "2025-06-01T00:00:00+00:00"
        if defect.content is not None:
            tile = provider / "elevation" / "dtm" / properties["url"]
            content = defect.content(tile.read_bytes(), tile)
            tile.unlink()  # a hard link to the shared region: replace, never write through it
            tile.write_bytes(content)
        if defect.url is not None:
            properties["url"] = defect.url
    index_path.write_text(json.dumps(index))


def table(storage: Storage, stage: str, sheet: str) -> pl.DataFrame:
    key = f"elevation/dtm/{stage}/map_sheet={sheet}/region=pilica/part.parquet"
    return pl.read_parquet(storage.get_bytes(key))


def outcome_of(storage: Storage, defect: Defect, evaluations: dict[str, dg.AssetCheckEvaluation]) -> str:
    """What the pipeline recorded for the defective tile, to compare with the expected substring."""
    sheet = defect.tile_id.rsplit("-", 1)[0]
    if defect.outcome == "sheet_rejected":
        failed = [
            name.split("|")[0] for name, e in evaluations.items() if f"|{sheet}|" in name and not e.passed
        ]
        assert storage.exists(
            f"elevation/dtm/converted_tiles/map_sheet={sheet}/region=pilica/candidate.parquet"
        )
        return ",".join(failed)
    stage = "raw_tiles" if defect.outcome == "raw_kept" else "converted_tiles"
    row = table(storage, stage, sheet).filter(pl.col("tile_id") == defect.tile_id).row(0, named=True)
    assert row["status"] == "kept", (defect.kind, row)
    assert defect.tile_id in row["reason"] or defect.tile_id.rsplit("-", 1)[0] in row["reason"], row["reason"]
    return str(row["reason"])


@pytest.mark.hostile
def test_a_hostile_provider_changes_nothing_that_is_published(
    small_region, any_storage: StorageResource, seaweedfs, tmp_path
):
    provider = provider_copy(small_region, tmp_path / "provider")
    defs, instance = definitions(provider, 2, any_storage), dg.DagsterInstance.ephemeral()
    store = any_storage.get_storage()
    baseline = run_sheets_and_consolidate(defs, instance)
    assert all(e.passed for e in baseline.values())
    sheets = set(instance.get_dynamic_partitions(SHEETS))
    before = published_state(store, sheets)

    deliver(provider, DEFECTS)
    evaluations = run_sheets_and_consolidate(defs, instance)

    outcomes = {defect.kind: outcome_of(store, defect, evaluations) for defect in DEFECTS}
    unexpected = {d.kind: outcomes[d.kind] for d in DEFECTS if d.expected not in outcomes[d.kind]}
    assert unexpected == {}
    # Tiles that kept their last version leave no hole: the mosaic is made again and passes.
    assert all(evaluations[f"{name}|pilica"].passed for name in ("valid_cog", "coverage", "seam_offsets"))
    assert published_state(store, sheets) == before
    secret = os.environ["AWS_SECRET_ACCESS_KEY"].encode()
    for info in store.list(""):
        content = store.get_bytes(info.key)
        assert secret not in content and b"root:x:0:0" not in content, info.key
