"""``meteo_months_sensor``: month partitions follow the data. Every month present in the published polished
meteo series is registered in ``meteo_months``; months are never deleted (a grid once made stays
addressable), so the sensor only ever adds, and an evaluation that finds nothing new requests nothing.

It reads only the ``time`` column of the stored Parquet (a column projection), not the series.
"""

import dagster as dg
import polars as pl

from landing_zone.defs.features.assets import METEO_MONTHS
from shared.assets.landing_zone import METEO_POLISHED
from shared.instigators import sensor_status
from shared.partitions import partition_requests
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.storage.layout import PARQUET, AssetLocation


def polished_months(store: Storage) -> list[str]:
    """The ``YYYY-MM`` months of the published polished meteo series (none before its first version)."""
    key = AssetLocation.for_partition(METEO_POLISHED).key(PARQUET)
    if not store.exists(key):
        return []
    with store.local_copy(key) as path:
        months = pl.scan_parquet(path).select(pl.col("time").dt.strftime("%Y-%m").unique()).collect()
    return sorted(months["time"].drop_nulls().to_list())


@dg.sensor(
    name="meteo_months_sensor",
    minimum_interval_seconds=3600,
    default_status=sensor_status(),
    description="Registers a meteo_months partition for every month of the polished meteo series.",
)
def meteo_months_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
    registered = context.instance.get_dynamic_partitions(METEO_MONTHS.name or "")
    months = polished_months(storage.get_storage())
    return dg.SensorResult(
        dynamic_partitions_requests=partition_requests(METEO_MONTHS, months, registered, retire=())
    )
