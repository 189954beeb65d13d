"""Map Dagster partition keys onto the storage layout's ``dim=value`` folders."""

from __future__ import annotations

from dagster import DynamicPartitionsDefinition, MultiPartitionsDefinition, PartitionsDefinition

SINGLE_DIMENSION = "partition"


def partition_dimensions(partitions_def: PartitionsDefinition | None, partition_key: str) -> dict[str, str]:
    """``{dimension: value}`` for one partition key of an asset.

    Multi-partitions give one entry per dimension; a named dynamic partitions definition names its
    dimension (``source=imgw``); every other single-dimension definition uses ``partition``.
    """
    if isinstance(partitions_def, MultiPartitionsDefinition):
        key = partitions_def.get_partition_key_from_str(partition_key)
        return dict(key.keys_by_dimension)
    if isinstance(partitions_def, DynamicPartitionsDefinition) and partitions_def.name:
        return {partitions_def.name: partition_key}
    return {SINGLE_DIMENSION: partition_key}
