"""The training-data domain keeps the floor plan: its plain modules (gauge matching, dataset layout,
audit tables, units, periods, the target) import no Dagster."""

import pytest

from discharge_model.defs import training_data
from tests.elevation.test_floor_plan import imports_dagster, plain_modules


@pytest.mark.parametrize("module", plain_modules(training_data))
def test_plain_modules_import_no_dagster(module: str) -> None:
    assert not imports_dagster(module)
