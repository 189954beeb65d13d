"""The storage layout contract: where an asset's object lives under the storage root.

``{root}/{asset/key/path}/{dim=value per partition dimension, sorted by dimension name}/{name}.{ext}``

Example: asset ``["elevation", "dtm", "converted"]``, multi-partition ``tile=N34-12|region=odra``
becomes ``elevation/dtm/converted/region=odra/tile=N34-12/part.tif``. Single-dimension partitions use the
dynamic partitions definition's name as dimension (``source=imgw``) or ``partition`` for the others
(``partition=2024-01-01``). Values are percent-encoded outside ``[A-Za-z0-9._:+@-]`` so a partition key can
never add a folder level or escape the asset's prefix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import quote

DEFAULT_OBJECT_NAME = "part"
_SAFE_CHARS = "._:+@-"
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


class InvalidLayoutError(ValueError):
    """An asset key, partition dimension or value cannot be mapped onto the storage layout."""


def encode_partition_value(value: str) -> str:
    """Percent-encode a partition value so it is exactly one safe path segment."""
    if value in {"", ".", ".."}:
        raise InvalidLayoutError(f"partition value {value!r} cannot be a path segment")
    return quote(value, safe=_SAFE_CHARS)


def partition_segments(partition: Mapping[str, str] | None) -> list[str]:
    """``dim=value`` folders, one per dimension, sorted by dimension name for a stable order."""
    if not partition:
        return []
    segments = []
    for dimension in sorted(partition):
        if not _SEGMENT.match(dimension):
            raise InvalidLayoutError(f"partition dimension {dimension!r} is not a safe folder name")
        segments.append(f"{dimension}={encode_partition_value(partition[dimension])}")
    return segments


def asset_prefix(asset_path: Sequence[str]) -> str:
    """The folder of an asset: its key path joined by ``/``, each component checked."""
    if not asset_path:
        raise InvalidLayoutError("an asset key needs at least one component")
    for component in asset_path:
        if not _SEGMENT.match(component):
            raise InvalidLayoutError(f"asset key component {component!r} is not a safe folder name")
    return "/".join(asset_path)


def object_key(
    asset_path: Sequence[str],
    partition: Mapping[str, str] | None,
    ext: str,
    name: str = DEFAULT_OBJECT_NAME,
) -> str:
    """The object key (relative to the storage root) of one asset partition."""
    if not _SEGMENT.match(name) or not re.fullmatch(r"[a-z0-9.]+", ext):
        raise InvalidLayoutError(f"object name {name!r}.{ext!r} is not safe")
    return "/".join([asset_prefix(asset_path), *partition_segments(partition), f"{name}.{ext}"])
