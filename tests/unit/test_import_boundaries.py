"""Import boundaries between the workspace members, read from the source (imports inside functions too).

- ``shared`` imports neither code location: both depend on it, never the other way round.
- ``discharge_model`` never imports ``landing_zone``: it reads landing-zone assets by registry key only.
- No production member imports the development member (``platform_dev``): images do not install it.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MEMBERS = {
    "shared": REPO / "shared" / "src" / "shared",
    "landing_zone": REPO / "landing_zone" / "src" / "landing_zone",
    "discharge_model": REPO / "discharge_model" / "src" / "discharge_model",
}
FORBIDDEN = {
    "shared": {"landing_zone", "discharge_model", "platform_dev"},
    "landing_zone": {"discharge_model", "platform_dev"},
    "discharge_model": {"landing_zone", "platform_dev"},
}


def imported_packages(source: str) -> set[str]:
    """Top-level package of every absolute import in ``source``."""
    packages = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            packages.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            packages.add(node.module.split(".")[0])
    return packages


def violations(member: str) -> list[str]:
    return [
        f"{path.relative_to(REPO)} imports {package}"
        for path in sorted(MEMBERS[member].rglob("*.py"))
        for package in sorted(imported_packages(path.read_text()) & FORBIDDEN[member])
    ]


def test_the_scan_sees_imports_at_any_depth():
    source = "import os\ndef f():\n    from landing_zone.defs import x\n    import platform_dev.demo\n"
    assert imported_packages(source) == {"os", "landing_zone", "platform_dev"}


@pytest.mark.parametrize("member", sorted(MEMBERS))
def test_member_respects_its_import_boundaries(member: str):
    assert list(MEMBERS[member].rglob("*.py")), f"no sources found for {member}"
    assert violations(member) == []
