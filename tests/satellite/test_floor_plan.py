"""The satellite domain keeps the floor plan: its plain modules (catalogue, raw layer, compositing) import
no Dagster."""

import pytest

from landing_zone.defs import satellite
from tests.elevation.test_floor_plan import imports_dagster, plain_modules


@pytest.mark.parametrize("module", plain_modules(satellite))
def test_plain_modules_import_no_dagster(module):
    assert not imports_dagster(module)
