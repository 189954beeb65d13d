"""The features domain keeps the floor plan: its plain modules (gridding, COG layout) import no Dagster."""

import pytest

from landing_zone.defs import features
from tests.elevation.test_floor_plan import imports_dagster, plain_modules


@pytest.mark.parametrize("module", plain_modules(features))
def test_plain_modules_import_no_dagster(module):
    assert not imports_dagster(module)
