"""``satellite_catalog_sensor`` on the sample region's catalogue: version 1, then version 2 (two months
added, one withdrawn), evaluated with Dagster's sensor test helpers on a real instance."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from landing_zone.defs.satellite.keys import SATELLITE_MONTHS, SATELLITE_NDVI, SATELLITE_SCENES
from landing_zone.defs.satellite.sensors import satellite_catalog_sensor
from platform_dev.sample_region.satellite import default_months, withdrawn_months
from shared.partitions import apply_partition_requests
from tests.satellite.conftest import REGION, Catalogues
from tests.support.sources import sources_with

REPO = Path(__file__).resolve().parents[2]


def months_of(dates) -> list[str]:
    return [f"{date:%Y-%m}" for date in dates]


def evaluate(instance: dg.DagsterInstance, catalog: Path, cursor: str | None) -> dg.SensorResult:
    """One tick against ``catalog``, its partition requests applied as the daemon applies them."""
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"sources": sources_with(satellite_catalog_url=str(catalog))},
    )
    result = satellite_catalog_sensor(context)
    apply_partition_requests(instance, result.dynamic_partitions_requests or [])
    return result


def requested_months(result: dg.SensorResult) -> list[str]:
    return sorted(request.partition_key.split("|")[0] for request in result.run_requests or [])


@pytest.fixture(scope="module")
def ticks(catalogues: Catalogues):
    """v1 once and again, then v2, then v2 fifty more times, each with the previous tick's cursor."""
    instance = dg.DagsterInstance.ephemeral()
    first = evaluate(instance, catalogues.v1, None)
    v1_months = instance.get_dynamic_partitions(SATELLITE_MONTHS.name)
    again = evaluate(instance, catalogues.v1, first.cursor)
    second = evaluate(instance, catalogues.v2, again.cursor)
    v2_months = instance.get_dynamic_partitions(SATELLITE_MONTHS.name)
    repeated, cursor = [], second.cursor
    for _ in range(50):
        repeated.append(evaluate(instance, catalogues.v2, cursor))
        cursor = repeated[-1].cursor
    return {
        "first": first,
        "again": again,
        "second": second,
        "repeated": repeated,
        "v1_months": v1_months,
        "v2_months": v2_months,
        "final_months": instance.get_dynamic_partitions(SATELLITE_MONTHS.name),
    }


def test_version_1_registers_exactly_its_months(ticks, catalogues):
    expected = months_of(default_months(catalogues.spec, 1))
    assert expected == ["2023-07", "2023-08", "2023-09", "2023-10"]
    assert sorted(ticks["v1_months"]) == expected
    assert requested_months(ticks["first"]) == expected


def test_run_requests_carry_both_assets_the_partition_and_the_fingerprint(ticks):
    fingerprints = json.loads(ticks["first"].cursor)
    for request in ticks["first"].run_requests:
        assert request.asset_selection == [SATELLITE_SCENES, SATELLITE_NDVI]
        partition = request.partition_key
        assert isinstance(partition, dg.MultiPartitionKey)
        assert partition.keys_by_dimension["region"] == REGION
        name = f"{partition.keys_by_dimension['month']}|{REGION}"
        assert request.run_key == f"{name}|{fingerprints[name]}"


def test_version_2_adds_the_new_months_and_deletes_the_withdrawn_one(ticks, catalogues):
    spec = catalogues.spec
    assert months_of(withdrawn_months(spec)) == ["2023-08"]
    assert sorted(ticks["v2_months"]) == months_of(default_months(spec, 2))
    assert "2023-08" not in ticks["v2_months"]
    added, deleted = ticks["second"].dynamic_partitions_requests
    assert isinstance(added, dg.AddDynamicPartitionsRequest) and list(added.partition_keys) == [
        "2023-11",
        "2023-12",
    ]
    assert isinstance(deleted, dg.DeleteDynamicPartitionsRequest) and list(deleted.partition_keys) == [
        "2023-08"
    ]


def test_months_whose_files_did_not_change_are_not_run_again(ticks):
    """The republished catalogue lies in another folder, but the unchanged months' items are the same."""
    assert requested_months(ticks["second"]) == ["2023-11", "2023-12"]


def test_repeated_evaluations_request_nothing_new(ticks):
    assert not ticks["again"].run_requests and not ticks["again"].dynamic_partitions_requests
    assert len(ticks["repeated"]) == 50
    for result in ticks["repeated"]:
        assert not result.run_requests
        assert not result.dynamic_partitions_requests
        assert result.cursor == ticks["second"].cursor
    assert ticks["final_months"] == ticks["v2_months"]


def test_a_changed_declaration_runs_that_month_only(catalogues, tmp_path):
    """A provider that declares a checksum for one file of one month: that month changed, no other."""
    v3 = tmp_path / "v3"
    shutil.copytree(catalogues.v2.parent, v3)
    (item,) = v3.rglob("S2_pilica_20230915.json")
    document = json.loads(item.read_text())
    document["assets"]["red"]["file:checksum"] = "1220" + "0" * 64
    item.write_text(json.dumps(document))
    instance = dg.DagsterInstance.ephemeral()
    before = evaluate(instance, catalogues.v2, None)
    after = evaluate(instance, v3 / "catalog.json", before.cursor)
    assert requested_months(after) == ["2023-09"]
    assert not after.dynamic_partitions_requests


def test_an_empty_catalogue_deletes_nothing(catalogues, tmp_path):
    """A catalogue that suddenly lists no item is far likelier broken than withdrawn."""
    empty = tmp_path / "catalog.json"
    empty.write_text(
        json.dumps(
            {"type": "Catalog", "id": "empty", "stac_version": "1.1.0", "description": "", "links": []}
        )
    )
    instance = dg.DagsterInstance.ephemeral()
    first = evaluate(instance, catalogues.v1, None)
    broken = evaluate(instance, empty, first.cursor)
    assert not broken.run_requests and not broken.dynamic_partitions_requests
    assert sorted(instance.get_dynamic_partitions(SATELLITE_MONTHS.name)) == months_of(
        default_months(catalogues.spec, 1)
    )


def test_the_sensor_is_stopped_until_an_operator_starts_it():
    assert satellite_catalog_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert satellite_catalog_sensor.minimum_interval_seconds == 3600


def test_a_region_whose_catalogue_breaks_keeps_its_months_and_stops_no_other(catalogues, tmp_path):
    """Two regions (a regions file, so a process of its own): ``second``'s catalogue breaks while
    ``pilica``'s moves to version 2 (two months added, 2023-08 withdrawn); the cursor is reset while it is
    broken; ``second`` comes back on version 1 (still holding 2023-08), then moves to version 2 as well."""
    regions = tmp_path / "regions.yaml"
    regions.write_text(
        "regions:\n"
        + "".join(
            f"  - {{name: {name}, sources: {{satellite_catalog: '{tmp_path / name / 'catalog.json'}'}}}}\n"
            for name in (REGION, "second")
        )
    )
    v1, v2 = str(catalogues.v1.parent), str(catalogues.v2.parent)
    ticks = [
        {REGION: v1, "second": v1},
        {REGION: v2, "second": "broken"},
        {REGION: v2, "second": "broken", "reset_cursor": True},
        {REGION: v2, "second": v1},
        {REGION: v2, "second": v2},
    ]
    environment = os.environ | {"PLATFORM_REGIONS_FILE": str(regions), "PYTHONWARNINGS": "ignore"}
    probe = [sys.executable, "-m", "tests.satellite.two_regions_probe", json.dumps(ticks)]
    ran = subprocess.run(probe, capture_output=True, text=True, cwd=REPO, env=environment, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    first, broken, reset, back, both_v2 = json.loads(ran.stdout.strip().splitlines()[-1])
    v1_months = months_of(default_months(catalogues.spec, 1))
    v2_months = months_of(default_months(catalogues.spec, 2))
    assert first["months"] == v1_months
    assert len(first["requested"]) == 2 * len(v1_months)
    assert broken["requested"] == [f"2023-11|{REGION}", f"2023-12|{REGION}"], "the other region goes on"
    assert broken["months"] == sorted(set(v1_months) | set(v2_months)), "2023-08 is kept: second held it"
    assert {name: value for name, value in broken["cursor"].items() if name.endswith("|second")} == {
        name: value for name, value in first["cursor"].items() if name.endswith("|second")
    }, "the broken region's entries are carried forward"
    assert reset["months"] == broken["months"], "no cursor entry of second: any month may be its"
    assert not any(name.endswith("|second") for name in reset["cursor"])
    assert back["requested"] == [f"{month}|second" for month in v1_months], "unseen since the reset"
    assert "2023-08" in back["months"], "withdrawn in pilica, still held by second"
    assert both_v2["months"] == v2_months, "2023-08 deleted once no region holds it"
    assert both_v2["requested"] == ["2023-11|second", "2023-12|second"]


@pytest.mark.parametrize("cursor_kept", [True, False], ids=["cursor", "reset_cursor"])
def test_a_catalogue_that_cannot_be_read_deletes_nothing_and_requests_nothing(
    catalogues, tmp_path, cursor_kept
):
    """With the cursor, the region's months are carried forward; without (reset), any registered month
    may be the region's, so nothing is deleted either."""
    broken = tmp_path / "catalog.json"
    broken.write_text("{ not a catalogue")
    instance = dg.DagsterInstance.ephemeral()
    first = evaluate(instance, catalogues.v1, None)
    after = evaluate(instance, broken, first.cursor if cursor_kept else None)
    assert not after.run_requests and not after.dynamic_partitions_requests
    assert sorted(instance.get_dynamic_partitions(SATELLITE_MONTHS.name)) == months_of(
        default_months(catalogues.spec, 1)
    )
    assert json.loads(after.cursor) == (json.loads(first.cursor) if cursor_kept else {})
