"""``forecast/grib/raw``: each weather-model run's GRIB2 file copied unchanged into the raw layer.

One partition per run (6-hourly time windows keyed by the run's start time, UTC). The file is fetched
through the source adapters (confined to the forecasts source, verified against the listed size),
then put in storage in one atomic write at
``forecast/grib/raw/partition={YYYY-MM-DD-HH:MM}/part.grib2``; its SHA-256, size and the source's
modification time go into the materialisation. The bytes are never changed: a run whose GRIB2 framing
is broken (a truncated transfer) is stored as published, its framing recorded, and the decoding step's
checks stop it from reaching a forecast.

The partitions (:data:`shared.assets.landing_zone.FORECAST_RUNS`, shared with the discharge forecast)
end one window after now: a run is a partition as soon as it has started, so the schedule, which ticks
some hours after the start, can request it.
"""

import tempfile
import time
from pathlib import Path

import dagster as dg

from landing_zone.defs.forecasts.keys import FORECAST_GRIB_RAW
from landing_zone.defs.forecasts.raw_runs import (
    GRIB_EXTENSION,
    grib_framing,
    run_file,
    run_of,
    run_url,
)
from landing_zone.resources.sources import SourcesResource
from landing_zone.sources import SourceNotFound, fetch
from shared.assets.landing_zone import FORECAST_RUNS
from shared.k8s.op_tags import K8sOpTags
from shared.resources.platform import TRANSIENT_STEP_RETRY
from shared.resources.storage import StorageResource
from shared.storage.layout import AssetLocation


@dg.asset(
    key=FORECAST_GRIB_RAW,
    partitions_def=FORECAST_RUNS,
    retry_policy=TRANSIENT_STEP_RETRY,
    op_tags=K8sOpTags.small(),
    kinds={"grib2"},
    description="Each weather-model run's GRIB2 file (00/06/12/18 UTC runs) as the provider published it, "
    "unchanged: forecast/grib/raw/partition=YYYY-MM-DD-HH:MM/part.grib2, one partition per run start "
    "time. Fetched from the forecasts source's {YYYYMMDD}/{HH}/forecast_{YYYYMMDDHH}.grib2, written "
    "atomically; metadata: SHA-256, bytes, source URL and modification time, GRIB2 message count and "
    "framing (a truncated file is stored as published and flagged). Requested by forecast_runs_schedule "
    "and late_forecast_runs_sensor; runs older than the retention age are removed by forecast_retention_job.",
)
def grib_raw(
    context: dg.AssetExecutionContext, sources: SourcesResource, storage: StorageResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    run = run_of(context.partition_key)
    url = run_url(sources.forecasts_url, run)
    store = storage.get_storage()
    key = AssetLocation.for_partition(FORECAST_GRIB_RAW, FORECAST_RUNS, context.partition_key).key(
        GRIB_EXTENSION
    )
    with tempfile.TemporaryDirectory(prefix="forecast-raw-") as tmp:
        try:
            fetched = fetch(
                url,
                Path(tmp, run_file(run).rpartition("/")[2]),
                allowed_prefixes=sources.allowed_prefixes("forecasts"),
                what=f"forecast run {context.partition_key}",
            )
        except SourceNotFound as error:
            # not transient: retrying within minutes will not publish it (the late-run sensor will fetch it)
            raise dg.Failure(
                f"forecast run {context.partition_key} is not published: {error}", allow_retries=False
            ) from None
        framing = grib_framing(fetched.path)
        stored = store.put_file(fetched.path, key)
    if not framing.complete:
        context.log.warning(f"forecast run {context.partition_key}: {fetched.url}: {framing.problem}")
    return dg.MaterializeResult(
        metadata={
            "uri": dg.MetadataValue.path(stored.uri),
            "sha256": fetched.sha256,
            "bytes": dg.MetadataValue.int(fetched.size),
            "source_url": dg.MetadataValue.url(fetched.url),
            "source_modified": fetched.last_modified.isoformat() if fetched.last_modified else "unknown",
            "fetch_attempts": dg.MetadataValue.int(fetched.attempts),
            "grib_messages": dg.MetadataValue.int(framing.messages),
            "grib_framing": framing.problem or "complete",
            "duration_s": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )
