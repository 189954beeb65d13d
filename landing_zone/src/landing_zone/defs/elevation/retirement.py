"""What happens to stored objects when the provider withdraws a tile or a whole map sheet.

The raw layer is append-only, so a withdrawn tile's raw objects stay, and a tombstone beside them says
they are retired, since when and why (``{tile_id}.retired.json``): an auditor can still read what was
delivered, and nothing downstream lists it. The converted layer is derived: a withdrawn sheet's
converted objects and table are deleted, so no later consolidation can mosaic them (or the hole they
leave) by accident. Withdrawn tiles of a sheet that remains are dropped from its converted table on the
sheet's next run, and their COGs deleted as superseded versions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl

from shared.storage import Storage, object_key

TOMBSTONE_SUFFIX = "retired"


def retire_tiles(
    storage: Storage,
    raw_path: Sequence[str],
    partition: dict[str, str],
    previous: pl.DataFrame | None,
    current: set[str],
    reason: str,
) -> list[str]:
    """Write a tombstone for each tile of ``previous`` (the last raw table) that is not in ``current``."""
    if previous is None:
        return []
    retired = previous.filter(~pl.col("tile_id").is_in(sorted(current)))
    for row in retired.iter_rows(named=True):
        tombstone = {
            "tile_id": row["tile_id"],
            "retired_at": datetime.now(UTC).isoformat(),
            "reason": reason,
            "objects": [key for key in (row.get("raw_key"), row.get("prj_key")) if key],
        }
        key = object_key(raw_path, partition, "json", name=f"{row['tile_id']}.{TOMBSTONE_SUFFIX}")
        storage.put_bytes(json.dumps(tombstone, indent=1).encode(), key)
    return sorted(retired["tile_id"].to_list())


def retire_sheet(
    storage: Storage,
    raw_path: Sequence[str],
    converted_path: Sequence[str],
    partition: dict[str, str],
    reason: str,
) -> dict[str, int]:
    """Tombstone a withdrawn sheet's raw tiles and delete its converted layer; returns the counts."""
    from shared.publication import published_table

    raw = published_table(storage, raw_path, partition)
    retired = retire_tiles(storage, raw_path, partition, raw, set(), reason)
    prefix = object_key(converted_path, partition, "parquet").rsplit("/", 1)[0] + "/"
    deleted = sum(storage.delete(info.key) for info in list(storage.list(prefix)))
    return {"tombstoned_tiles": len(retired), "deleted_converted_objects": deleted}
