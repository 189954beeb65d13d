"""Deployment artefacts: the Helm values (base merged with each overlay) and the reference folder."""

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
HELM = REPO / "helm"
VALIDATOR = REPO.parent / "shared" / "tools" / "validate_dagster_values.py"
OVERLAYS = sorted((HELM / "overlays").glob("*.yaml"))


def merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of values files: maps merge recursively, anything else replaces."""
    result = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


@pytest.fixture(scope="session")
def values() -> dict[str, Any]:
    return yaml.safe_load((HELM / "values.yaml").read_text())


@pytest.fixture(scope="session", params=[None, *OVERLAYS], ids=lambda p: p.stem if p else "base")
def environment_values(request: pytest.FixtureRequest, values: dict[str, Any]) -> dict[str, Any]:
    """The values each environment installs with: the base, and the base plus each overlay."""
    if request.param is None:
        return values
    return merged(values, yaml.safe_load(request.param.read_text()))
