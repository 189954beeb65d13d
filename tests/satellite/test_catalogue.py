"""The catalogue read as per-month scene sets: what belongs to the region, what each scene declares, and
items that cannot be used kept with the reason instead of breaking the whole catalogue."""

import json
import shutil

import pytest

from landing_zone.defs.satellite.catalogue import read_catalogue
from landing_zone.sources import provider_root
from platform_dev.sample_region.satellite import default_months
from shared.regions import Region
from tests.satellite.conftest import REGION, Catalogues


def read(catalog, bounds=None):
    url = str(catalog)
    return read_catalogue(url, [provider_root(url)], Region(name=REGION, bounds=bounds))


def test_months_hold_the_acquisitions_with_their_declared_grids(catalogues: Catalogues):
    catalogue = read(catalogues.v2)
    assert sorted(catalogue.months) == [f"{m:%Y-%m}" for m in default_months(catalogues.spec, 2)]
    july = catalogue.months["2023-07"]
    assert [scene.datetime.day for scene in july.scenes] == [5, 15, 25]
    scene = july.scenes[0]
    assert scene.problem == "" and sorted(scene.assets) == ["nir", "red", "scl"]
    red, scl = scene.assets["red"].grid, scene.assets["scl"].grid
    assert red.crs == scl.crs == "EPSG:32634"
    assert red.cell_size == 10.0 and scl.cell_size == 20.0
    assert scl.transform[2] == red.transform[2] and scl.transform[5] == red.transform[5]
    assert scl.shape == (-(-red.shape[0] // 2), -(-red.shape[1] // 2))


def test_items_outside_the_regions_bounds_are_not_the_regions(catalogues: Catalogues):
    inside = read(catalogues.v2, catalogues.spec.bounds)
    assert sorted(inside.months) == sorted(read(catalogues.v2).months)
    assert not read(catalogues.v2, (100_000.0, 100_000.0, 110_000.0, 110_000.0)).months


@pytest.fixture
def edited(catalogues: Catalogues, tmp_path):
    folder = tmp_path / "edited"
    shutil.copytree(catalogues.v1.parent, folder)
    return folder


def edit_item(folder, item_id, change):
    (path,) = folder.rglob(f"{item_id}.json")
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_an_href_outside_the_source_or_a_missing_declaration_is_the_scenes_problem(edited):
    edit_item(
        edited, "S2_pilica_20230705", lambda d: d["assets"]["red"].update(href="../../../../../etc/hosts")
    )
    edit_item(edited, "S2_pilica_20230715", lambda d: d["assets"]["nir"].pop("proj:transform"))
    july = read(edited / "catalog.json").months["2023-07"]
    problems = {scene.item_id: scene.problem for scene in july.scenes}
    assert "'red'" in problems["S2_pilica_20230705"] and "outside" in problems["S2_pilica_20230705"]
    assert "no proj:transform" in problems["S2_pilica_20230715"]
    assert problems["S2_pilica_20230725"] == ""


def test_a_declared_change_changes_only_its_months_fingerprint(catalogues: Catalogues, edited):
    before = {month: scenes.fingerprint for month, scenes in read(edited / "catalog.json").months.items()}
    edit_item(edited, "S2_pilica_20230905", lambda d: d["properties"].update(updated="2024-01-01T00:00:00Z"))
    after = {month: scenes.fingerprint for month, scenes in read(edited / "catalog.json").months.items()}
    assert [month for month in before if before[month] != after[month]] == ["2023-09"]
    assert before == {month: s.fingerprint for month, s in read(catalogues.v1).months.items()}
