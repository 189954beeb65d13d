"""``satellite/ndvi`` is requested when the same month's scenes are newly published with their blocking
check passed, for that month only, and not when the region's DTM changes.

The graph is the deployed code location's; materialisations and check results are recorded by stand-ins
(:func:`tests.support.automation.stand_in`) and the real condition is evaluated tick by tick with
``dg.evaluate_automation_conditions``, its cursor carried as the daemon carries it.
"""

import dagster as dg

from landing_zone.defs.satellite.keys import SATELLITE_MONTHS, SATELLITE_NDVI, SATELLITE_SCENES
from shared.assets.landing_zone import DTM_CONSOLIDATED
from shared.automation import when_dep_passed
from tests.satellite.conftest import REGION
from tests.support.automation import stand_in

CLEAR, REJECTED = (
    str(dg.MultiPartitionKey({"month": month, "region": REGION})) for month in ("2023-07", "2023-09")
)


def test_ndvi_follows_each_months_published_scenes():
    from landing_zone.definitions import defs

    graph = defs.resolve_asset_graph()
    assert graph.get(SATELLITE_NDVI).automation_condition == when_dep_passed(SATELLITE_SCENES)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(SATELLITE_MONTHS.name, ["2023-07", "2023-09"])
    cursor = None

    def materialise(key: dg.AssetKey, partition: str, failing: frozenset[str] = frozenset()) -> None:
        dg.materialize(
            [stand_in(graph, key, set(failing))],
            instance=instance,
            partition_key=partition,
            raise_on_error=False,
        )

    def tick() -> set[str]:
        nonlocal cursor
        result = dg.evaluate_automation_conditions(
            defs=defs,
            instance=instance,
            asset_selection=dg.AssetSelection.assets(SATELLITE_NDVI),
            cursor=cursor,
        )
        cursor = result.cursor
        return set(result.get_requested_partitions(SATELLITE_NDVI))

    assert tick() == set()
    materialise(SATELLITE_SCENES, CLEAR)
    materialise(SATELLITE_SCENES, REJECTED, failing=frozenset({"stored_scenes_match_manifest"}))
    assert tick() == {CLEAR}, (
        "a month whose scenes failed their blocking check waits, and holds back no other"
    )
    assert tick() == set(), "requested once per update"
    materialise(DTM_CONSOLIDATED, REGION)
    assert tick() == set(), "a new DTM does not request every month again"
    materialise(SATELLITE_SCENES, REJECTED)
    assert tick() == {REJECTED}
