"""The storage layout contract: where an asset's object lives under the storage root.

``{root}/{asset/key/path}/{dim=value per partition dimension, sorted by dimension name}/{name}.{ext}``

Example: asset ``["elevation", "dtm", "converted"]``, multi-partition ``tile=N34-12|region=odra``
becomes ``elevation/dtm/converted/region=odra/tile=N34-12/part.tif``. Single-dimension partitions use the
dynamic partitions definition's name as dimension (``source=imgw``) or ``partition`` for the others
(``partition=2024-01-01``). Values are percent-encoded outside ``[A-Za-z0-9._:+@-]`` so a partition key can
never add a folder level or escape the asset's prefix.

:class:`AssetLocation` is the one way to name an asset partition's objects: the IO managers, the
checks, publication and the raw and tile layers all build their keys with it. Dagster is imported
lazily (only to map a partition key onto dimensions), so plain computation modules can use the layout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from dagster import AssetKey, PartitionsDefinition

PARQUET = "parquet"
"""(Geo)Parquet tables: what every table asset publishes."""
COG = "tif"
"""Cloud Optimized GeoTIFFs: raster assets and converted tiles."""
FLATGEOBUF = "fgb"
"""The FlatGeobuf copy of a vector layer, beside its GeoParquet."""
JSON = "json"
"""Records and tombstones of the raw layer."""

DEFAULT_OBJECT_NAME = "part"
"""The published object of an asset partition: ``part.{ext}``."""
CANDIDATE_NAME = "candidate"
"""A version its blocking checks rejected, kept beside the published one: ``candidate.{ext}``."""
SINGLE_DIMENSION = "partition"
"""The dimension of a single-dimension partition whose definition has no name of its own."""

_SAFE_CHARS = "._:+@-"
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


class InvalidLayoutError(ValueError):
    """An asset key, partition dimension or value cannot be mapped onto the storage layout."""


def _encode_partition_value(value: str) -> str:
    """Percent-encode a partition value so it is exactly one safe path segment."""
    if value in {"", ".", ".."}:
        raise InvalidLayoutError(f"partition value {value!r} cannot be a path segment")
    return quote(value, safe=_SAFE_CHARS)


def _partition_segments(partition: Mapping[str, str] | None) -> list[str]:
    """``dim=value`` folders, one per dimension, sorted by dimension name for a stable order."""
    if not partition:
        return []
    segments = []
    for dimension in sorted(partition):
        if not _SEGMENT.match(dimension):
            raise InvalidLayoutError(f"partition dimension {dimension!r} is not a safe folder name")
        segments.append(f"{dimension}={_encode_partition_value(partition[dimension])}")
    return segments


def _asset_prefix(asset_path: Sequence[str]) -> str:
    """The folder of an asset: its key path joined by ``/``, each component checked."""
    if not asset_path:
        raise InvalidLayoutError("an asset key needs at least one component")
    for component in asset_path:
        if not _SEGMENT.match(component):
            raise InvalidLayoutError(f"asset key component {component!r} is not a safe folder name")
    return "/".join(asset_path)


def partition_dimensions(partitions_def: PartitionsDefinition | None, partition_key: str) -> dict[str, str]:
    """``{dimension: value}`` for one partition key of an asset.

    Multi-partitions give one entry per dimension; a named dynamic partitions definition names its
    dimension (``source=imgw``); every other single-dimension definition uses ``partition``.
    """
    from dagster import DynamicPartitionsDefinition, MultiPartitionsDefinition

    if isinstance(partitions_def, MultiPartitionsDefinition):
        key = partitions_def.get_partition_key_from_str(partition_key)
        return dict(key.keys_by_dimension)
    if isinstance(partitions_def, DynamicPartitionsDefinition) and partitions_def.name:
        return {partitions_def.name: partition_key}
    return {SINGLE_DIMENSION: partition_key}


@dataclass(frozen=True)
class AssetLocation:
    """Where the objects of one asset partition live: its folder and the keys of the objects in it.

    ``partition`` is ``{dimension: value}`` (see :func:`partition_dimensions`), empty for an
    unpartitioned asset. Keys are checked against the layout when built, not when the location is made.
    """

    asset_path: Sequence[str]
    partition: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "asset_path", tuple(self.asset_path))
        object.__setattr__(self, "partition", dict(self.partition or {}))

    @classmethod
    def for_partition(
        cls,
        asset: AssetKey | Sequence[str],
        partitions_def: PartitionsDefinition | None = None,
        partition_key: str | None = None,
    ) -> AssetLocation:
        """The location of ``partition_key`` of an asset (its key or key path); unpartitioned without one."""
        from dagster import AssetKey

        path = asset.path if isinstance(asset, AssetKey) else asset  # an AssetKey is a tuple too
        partition = {} if partition_key is None else partition_dimensions(partitions_def, partition_key)
        return cls(path, partition)

    @property
    def folder(self) -> str:
        """The partition's folder, ending in ``/``: the prefix that lists every object of the partition."""
        return "/".join([_asset_prefix(self.asset_path), *_partition_segments(self.partition)]) + "/"

    def key(self, ext: str, name: str = DEFAULT_OBJECT_NAME) -> str:
        """The object key (relative to the storage root) of ``{name}.{ext}`` in the partition's folder."""
        if not _SEGMENT.match(name) or not re.fullmatch(r"[a-z0-9.]+", ext):
            raise InvalidLayoutError(f"object name {name!r}.{ext!r} is not safe")
        return f"{self.folder}{name}.{ext}"
