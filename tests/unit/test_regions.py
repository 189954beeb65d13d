"""Regions are configuration: one YAML file, validated, read by both code locations."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.regions import RegionsFileError, load_regions, regions_file

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_packaged_file_holds_the_sample_region():
    regions = load_regions(regions_file())
    assert list(regions) == ["pilica"]
    assert regions["pilica"].crs == "EPSG:2180"
    assert regions["pilica"].analysis_resolution_m > 0


def test_an_entry_carries_bounds_resolution_and_source_overrides(tmp_path):
    path = write(
        tmp_path / "regions.yaml",
        "regions:\n"
        "  - {name: pilica}\n"
        "  - name: rough_90m\n"
        "    crs: EPSG:32633\n"
        "    bounds: [400000, 5500000, 430000, 5530000]\n"
        "    analysis_resolution_m: 90\n"
        "    sources: {rivers: 'file:///data/rough/rivers.geojson'}\n",
    )
    regions = load_regions(path)
    assert list(regions) == ["pilica", "rough_90m"]
    assert regions["rough_90m"].bounds == (400000, 5500000, 430000, 5530000)
    assert regions["rough_90m"].sources["rivers"].endswith("rivers.geojson")


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("regions:\n  - {name: a}\n  - {name: a}\n", "repeated"),
        ("regions:\n  - {name: Bad-Name}\n", "name"),
        ("regions:\n  - {name: a, bounds: [10, 0, 0, 10]}\n", "west<east"),
        ("regions:\n  - {name: a, analysis_resolution_m: 0}\n", "analysis_resolution_m"),
        ("regions: []\n", "regions"),
        ("regions: [\n", "regions file"),
    ],
)
def test_an_invalid_file_is_refused_naming_the_file_and_what_is_wrong(tmp_path, text, complaint):
    path = write(tmp_path / "regions.yaml", text)
    with pytest.raises(RegionsFileError) as raised:
        load_regions(path)
    assert str(path) in str(raised.value)
    assert complaint in str(raised.value)


def test_adding_an_entry_adds_its_partitions_to_both_locations(tmp_path):
    path = write(tmp_path / "regions.yaml", "regions:\n  - {name: pilica}\n  - {name: second}\n")
    probe = (
        "import json\n"
        "import discharge_model.definitions as dm, landing_zone.definitions as lz\n"
        "def regions(defs, key):\n"
        "    spec = next(s for s in defs.defs.resolve_all_asset_specs() if s.key.to_user_string() == key)\n"
        "    return spec.partitions_def.get_partition_keys()\n"
        "print(json.dumps({\n"
        "    'dtm': regions(lz, 'elevation/dtm/consolidated'),\n"
        "    'reaches': regions(lz, 'catchments/reaches'),\n"
        "    'model': regions(dm, 'elevation/dtm/consolidated'),\n"
        "}))\n"
    )
    environment = os.environ | {"PLATFORM_REGIONS_FILE": str(path), "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, env=environment, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    keys = json.loads(result.stdout.strip().splitlines()[-1])
    assert keys["dtm"] == ["pilica", "second"]
    assert keys["model"] == ["pilica", "second"]
    assert sorted(keys["reaches"]) == sorted(
        f"{c}|{r}" for c in ("burn_fill", "fill") for r in ("pilica", "second")
    )
