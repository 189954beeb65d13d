"""The base of the platform's IO managers: asset key and partitions to storage keys, one place.

Subclasses decide the file format; this class decides *where* (the layout contract,
:class:`~shared.storage.layout.AssetLocation`) and how inputs that span several upstream partitions are
enumerated.
"""

from collections.abc import Callable
from typing import Any, ClassVar, get_args, get_origin

from dagster import (
    ConfigurableIOManager,
    DagsterInvariantViolationError,
    InputContext,
    OutputContext,
    ResourceDependency,
)

from shared.resources.storage import StorageResource
from shared.storage import ObjectNotFoundError, Storage
from shared.storage.layout import AssetLocation


class UnsupportedAnnotationError(TypeError):
    """An input or output is annotated with a type the IO manager cannot produce or store."""


class StorageIOManager(ConfigurableIOManager):
    """Stores one object per asset partition under the storage root."""

    storage: ResourceDependency[StorageResource]

    extension: ClassVar[str] = "bin"
    """File extension of stored objects; each subclass names its format's."""

    @property
    def store(self) -> Storage:
        return self.storage.get_storage()

    def output_location(self, context: OutputContext) -> AssetLocation:
        """Where the partition being written lives; one object per materialised partition."""
        if not context.has_asset_partitions:
            return AssetLocation.for_partition(context.asset_key)
        keys = context.asset_partition_keys
        if len(keys) != 1:
            raise ValueError(
                f"{context.asset_key.to_user_string()}: one output cannot be stored as {len(keys)} "
                "partitions; run the partitions one by one (single-run backfills are not supported)"
            )
        return AssetLocation.for_partition(context.asset_key, context.asset_partitions_def, keys[0])

    def output_key(self, context: OutputContext) -> str:
        """The object key of the partition being written."""
        return self.output_location(context).key(self.extension)

    def require(self, key: str, context: InputContext) -> None:
        """Fail with the asset and URI named when an upstream object is missing."""
        if not self.store.exists(key):
            raise ObjectNotFoundError(
                f"{context.asset_key.to_user_string()}: nothing stored at {self.store.uri(key)}; "
                "materialise the upstream asset (partition) first"
            )

    def load_objects(
        self, context: InputContext, accepted: tuple[Any, ...], load: Callable[[str, Any], Any]
    ) -> Any:
        """Load one stored object per upstream partition with ``load(key, annotation)``.

        For managers whose objects are not concatenated: one partition gives the object itself, several
        need a ``dict[str, X]`` annotation. ``accepted`` are the annotations the manager can produce.
        """
        per_partition, annotation = split_mapping_annotation(input_annotation(context))
        if annotation not in (*accepted, Any, None):
            names = ", ".join(getattr(kind, "__name__", str(kind)) for kind in accepted)
            raise UnsupportedAnnotationError(
                f"input {context.name!r} (asset {context.asset_key.to_user_string()}) is annotated "
                f"{annotation!r}; {type(self).__name__} loads {names} or dict[str, one of those]"
            )
        keys = self.input_keys(context)
        if len(keys) > 1 and not per_partition:
            raise UnsupportedAnnotationError(
                f"input {context.name!r} spans {len(keys)} partitions of "
                f"{context.asset_key.to_user_string()}: annotate it dict[str, {accepted[0].__name__}]"
            )
        loaded = {partition: load(key, annotation) for partition, key in keys.items()}
        return loaded if per_partition else next(iter(loaded.values()))

    def input_keys(self, context: InputContext) -> dict[str, str]:
        """``{partition key: object key}`` of every upstream partition the input asks for.

        Unpartitioned inputs give one entry keyed by the empty string.
        """
        asset, extension = context.asset_key, self.extension
        if not context.has_asset_partitions:
            return {"": AssetLocation.for_partition(asset).key(extension)}
        partitions_def = context.asset_partitions_def
        return {
            key: AssetLocation.for_partition(asset, partitions_def, key).key(extension)
            for key in context.asset_partition_keys
        }


def input_annotation(context: InputContext) -> Any:
    """The Python type the consuming function asked for.

    ``Any`` when unannotated, and when a notebook or script builds the context without a type.
    """
    try:
        return context.dagster_type.typing_type
    except DagsterInvariantViolationError:
        return Any


def split_mapping_annotation(annotation: Any) -> tuple[bool, Any]:
    """``(True, X)`` for ``dict[str, X]`` (one value per upstream partition), else ``(False, annotation)``."""
    if get_origin(annotation) is dict:
        key_type, value_type = get_args(annotation) or (str, Any)
        if key_type is not str:
            raise UnsupportedAnnotationError(f"partition mappings are keyed by str, not {key_type!r}")
        return True, value_type
    return False, annotation
