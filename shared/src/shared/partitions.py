"""Dynamic partitions kept equal to what a source lists: the requests that do it, and applying them; and
the partition mapping from a ``... x region`` partition to its region.

Sensors return the requests in their ``SensorResult`` (the daemon applies them); the demo and tests that
evaluate a sensor in-process, and schedules (which cannot return them), apply them to the instance with
:func:`apply_partition_requests`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import dagster as dg

PartitionRequest = dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest

BY_REGION = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="region")
"""Maps a partition of a ``... x region`` multi-partitioned asset to the same region's partition of a
region-partitioned one, and back: a month's composite reads its region's DTM, a catchment attribute its
region's catchments. Every other dimension is ignored, so each of its partitions depends on the whole
region partition (one DTM under every month)."""


def partition_requests(
    definition: dg.DynamicPartitionsDefinition,
    wanted: Iterable[str],
    registered: Iterable[str],
    retire: Iterable[str] | None = None,
) -> list[PartitionRequest]:
    """The requests that register every ``wanted`` key and delete registered keys no longer wanted.

    New keys are always added (sorted). Without ``retire`` every registered key that is not wanted is
    deleted; with it, only those of its keys that are registered and not wanted, so a caller can add at
    once but delete only what it has confirmed (``retire=()`` deletes nothing).
    """
    wanted, registered = set(wanted), set(registered)
    unwanted = registered - wanted
    deleted = unwanted if retire is None else unwanted & set(retire)
    requests: list[PartitionRequest] = []
    if wanted - registered:
        requests.append(definition.build_add_request(sorted(wanted - registered)))
    if deleted:
        requests.append(definition.build_delete_request(sorted(deleted)))
    return requests


def apply_partition_requests(instance: dg.DagsterInstance, requests: Sequence[PartitionRequest]) -> None:
    """Carry out partition requests on an instance, in order, as the sensor daemon does."""
    for request in requests:
        keys: Collection[str] = list(request.partition_keys)
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, list(keys))
        else:
            for key in keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
