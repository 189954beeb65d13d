"""What happens to stored objects when the provider withdraws a tile or a whole map sheet.

The raw layer is append-only, so a withdrawn tile's raw objects stay, and a tombstone beside them says
they are retired, since when and why (``{tile_id}.retired.json``): an auditor can still read what was
delivered, and nothing downstream lists it. Tombstones are written once the sheet's new raw table is
published, and removed when the provider lists the tile again.

The converted layer is derived: a withdrawn sheet's raw table (its listing) and its converted objects
and table are deleted, so no later consolidation can mosaic them (or the hole they leave) by accident,
and a sheet listed again later runs again. Withdrawn tiles of a sheet that remains are dropped from its
converted table on the sheet's next run, and their COGs deleted as superseded versions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl

from shared.storage import Storage
from shared.storage.layout import JSON, PARQUET, AssetLocation

TOMBSTONE_SUFFIX = "retired"


def withdrawn_rows(previous: pl.DataFrame | None, current: set[str]) -> pl.DataFrame | None:
    """The rows of the last raw table whose tiles are no longer in ``current``."""
    if previous is None:
        return None
    return previous.filter(~pl.col("tile_id").is_in(sorted(current)))


def write_tombstones(
    storage: Storage,
    raw: AssetLocation,
    rows: pl.DataFrame | None,
    reason: str,
) -> list[str]:
    """A ``{tile_id}.retired.json`` tombstone beside the raw objects of each row; returns the tile ids."""
    if rows is None:
        return []
    for row in rows.iter_rows(named=True):
        tombstone = {
            "tile_id": row["tile_id"],
            "retired_at": datetime.now(UTC).isoformat(),
            "reason": reason,
            "objects": [key for key in (row.get("raw_key"), row.get("prj_key")) if key],
        }
        storage.put_bytes(json.dumps(tombstone, indent=1).encode(), _tombstone_key(raw, row["tile_id"]))
    return sorted(rows["tile_id"].to_list())


def clear_tombstones(storage: Storage, raw: AssetLocation, current: set[str]) -> None:
    """Remove the tombstones of tiles the provider lists again: they are no longer retired."""
    suffix = f".{TOMBSTONE_SUFFIX}.{JSON}"
    for info in list(storage.list(raw.folder)):
        name = info.key.rsplit("/", 1)[1]
        if name.endswith(suffix) and name.removesuffix(suffix) in current:
            storage.delete(info.key)


def _tombstone_key(raw: AssetLocation, tile_id: str) -> str:
    return raw.key(JSON, name=f"{tile_id}.{TOMBSTONE_SUFFIX}")


def retire_sheet(
    storage: Storage, raw: AssetLocation, converted: AssetLocation, reason: str
) -> dict[str, int]:
    """Tombstone a withdrawn sheet's raw tiles and delete its converted layer; returns the counts."""
    from shared.publication import published_table

    table = published_table(storage, raw)
    retired = write_tombstones(storage, raw, table, reason)
    # The raw objects stay (append-only), but the sheet no longer lists them: should the provider list
    # the sheet again, nothing says it is already materialised, so it runs again.
    storage.delete(raw.key(PARQUET))
    deleted = sum(storage.delete(info.key) for info in list(storage.list(converted.folder)))
    return {"tombstoned_tiles": len(retired), "deleted_converted_objects": deleted}
