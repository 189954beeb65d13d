"""The elevation and catchment chain on S3 behind a fault proxy (5 % of requests reset mid-response or
mid-upload, or answered 500/503, up to 20 ms latency): it completes, every stored object equals a
fault-free run's byte for byte, the storage retries are in the log with the objects' URIs, and no
multipart upload is left open.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import dagster as dg
import pytest

from landing_zone.defs.catchments.definitions import defs as catchment_defs
from landing_zone.defs.catchments.keys import (
    CATCHMENT_STAGES,
    HYDROGRAPHY_STAGES,
    catchment_key,
    hydrography_key,
)
from landing_zone.defs.elevation.definitions import ElevationPipeline
from landing_zone.resources.sources import SourcesResource
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource
from shared.storage import Storage
from tests.conftest import TEST_BUCKET
from tests.elevation.test_publication import run_sheets_and_consolidate
from tests.support.tcp_proxy import TcpProxy

REGION = "pilica"
STRATEGY = dg.MultiPartitionKey({"conditioning": "burn_fill", "region": REGION})


def chain_definitions(region: Path, storage: StorageResource) -> dg.Definitions:
    sources = SourcesResource(
        elevation_index_url=f"{region.as_uri()}/elevation/{{product}}/index_v2.geojson",
        rivers_url=(region / "hydrography" / "rivers.geojson").as_uri(),
        meteo_url="unused",
        hydro_url="unused",
        forecasts_url="unused",
        satellite_catalog_url="unused",
    )
    return dg.Definitions.merge(
        dg.build_defs_for_component(ElevationPipeline(product="dtm")),
        catchment_defs,
        dg.Definitions(resources={**platform_resources(storage), "sources": sources}),
    )


def run_chain(defs: dg.Definitions) -> None:
    """DTM sheets and consolidation, then the region's rivers and analysis DEM, then one strategy."""
    instance = dg.DagsterInstance.ephemeral()
    evaluations = run_sheets_and_consolidate(defs, instance)
    assert all(e.passed for e in evaluations.values()), [n for n, e in evaluations.items() if not e.passed]
    job = defs.resolve_implicit_global_asset_job_def()
    per_region = [hydrography_key(stage) for stage in HYDROGRAPHY_STAGES] + [catchment_key("analysis_dem")]
    per_strategy = [catchment_key(stage) for stage in CATCHMENT_STAGES if stage != "analysis_dem"]
    for keys, partition in ((per_region, REGION), (per_strategy, STRATEGY)):
        result = job.execute_in_process(instance=instance, partition_key=partition, asset_selection=keys)
        assert result.success


def object_digests(storage: Storage) -> dict[str, str]:
    return {info.key: hashlib.sha256(storage.get_bytes(info.key)).hexdigest() for info in storage.list("")}


def test_the_chain_survives_s3_faults_with_identical_objects(
    small_region,
    seaweedfs,
    faulty_s3_endpoint: TcpProxy,
    caplog: pytest.LogCaptureFixture,
):
    clean = StorageResource(url=f"s3://{TEST_BUCKET}/chain-clean", endpoint_url=seaweedfs.endpoint_url)
    faulty = StorageResource(
        url=f"s3://{TEST_BUCKET}/chain-faulty", endpoint_url=faulty_s3_endpoint.endpoint_url
    )
    run_chain(chain_definitions(small_region, clean))
    with caplog.at_level(logging.WARNING, logger="shared.storage"):
        run_chain(chain_definitions(small_region, faulty))

    assert sum(faulty_s3_endpoint.injected.values()) > 20  # the run really met faults
    expected = object_digests(clean.get_storage())
    assert len(expected) > 60
    assert object_digests(faulty.get_storage()) == expected
    retries = [r.getMessage() for r in caplog.records if r.name.startswith("shared.storage")]
    assert retries and all(f"s3://{TEST_BUCKET}/chain-faulty/" in message for message in retries)
    client = faulty.get_storage().client  # type: ignore[attr-defined]
    assert client.list_multipart_uploads(Bucket=TEST_BUCKET).get("Uploads", []) == []
