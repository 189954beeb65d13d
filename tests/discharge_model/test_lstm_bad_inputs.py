"""Issue 15's bad inputs against a published model, on the real S3 server: a basin whose target is all
missing, a static attribute that is NaN, a forcing column renamed upstream.

Through the whole chain (landing-zone inputs broken, then training data, model and evaluation in one
run), the training data's blocking check stops the run, naming basin and column, and the model's steps
never start. A dataset zip that reaches storage without those checks carries the same defects straight to
the model, which refuses it before training, naming basin and column. Either way, every object the model
and its evaluation had published is byte for byte as it was.

The published state is built once: the sample region's landing-zone inputs (``platform_dev.training_inputs``),
the dataset, a model trained briefly (its quality is not the point here) and its evaluation.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from discharge_model.defs.lstm.definitions import lstm_definitions
from discharge_model.defs.training_data.definitions import training_data_definitions
from platform_dev.seaweedfs import SeaweedFS
from platform_dev.training_inputs import REGION, Network, store_inputs
from shared.assets.discharge_model import (
    GAUGE_CATCHMENTS,
    LSTM_MODEL,
    MODEL_EVALUATION,
    TRAINING_DATA,
    TRAINING_DATASET_EXT,
    TRAINING_DATASET_NAME,
)
from shared.assets.landing_zone import REGIONS
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource
from shared.storage.layout import AssetLocation
from tests.conftest import TEST_BUCKET
from tests.discharge_model.dagster_results import assets_of, failure_message
from tests.discharge_model.test_training_data import (
    Breaker,
    all_target_missing,
    attribute_nan,
    renamed_forcing,
)

DATASET_KEY = AssetLocation.for_partition(TRAINING_DATA, REGIONS, REGION).key(
    TRAINING_DATASET_EXT, name=TRAINING_DATASET_NAME
)
MODEL_FOLDERS = tuple(
    AssetLocation.for_partition(key, REGIONS, REGION).folder for key in (LSTM_MODEL, MODEL_EVALUATION)
)
BRIEF_TRAINING = {"epochs": 1, "seq_length": 30}
"""Enough to publish a model whose archive, pointer and evaluation can be watched."""


def materialise(storage: StorageResource, selection: list[dg.AssetKey]) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets_of(training_data_definitions(), lstm_definitions()),
        resources=platform_resources(storage),
        partition_key=REGION,
        selection=selection,
        run_config={"ops": {"discharge_model__lstm": {"config": BRIEF_TRAINING}}}
        if LSTM_MODEL in selection
        else None,
        raise_on_error=False,
    )


@dataclass
class Published:
    storage: StorageResource
    network: Network

    def copy(self) -> StorageResource:
        """Every object of the published root under a fresh root, so each case starts from it."""
        source = self.storage.get_storage()
        target = StorageResource(url=f"s3://{TEST_BUCKET}/lstm-bad-input-{uuid.uuid4().hex[:8]}")
        for listed in source.list():
            target.get_storage().put_bytes(source.get_bytes(listed.key), listed.key)
        return target


def model_objects(storage: StorageResource) -> dict[str, bytes]:
    """Every object the model and its evaluation have stored (archives, pointers, tables, plots)."""
    store = storage.get_storage()
    return {
        listed.key: store.get_bytes(listed.key) for folder in MODEL_FOLDERS for listed in store.list(folder)
    }


@pytest.fixture(scope="module")
def published(seaweedfs: SeaweedFS, small_region: Path, manifest: dict) -> Iterator[Published]:
    storage = StorageResource(url=f"s3://{TEST_BUCKET}/lstm-bad-inputs-{uuid.uuid4().hex[:8]}")
    network = store_inputs(storage, small_region, manifest)
    result = materialise(storage, [GAUGE_CATCHMENTS, TRAINING_DATA, LSTM_MODEL, MODEL_EVALUATION])
    assert result.success
    objects = model_objects(storage)
    assert any(key.endswith("/current.json") for key in objects)
    assert any(key.endswith(".zip") for key in objects)
    yield Published(storage, network)


def step_keys_started(result: dg.ExecuteInProcessResult) -> set[str | None]:
    return {event.step_key for event in result.all_events if event.event_type_value == "STEP_START"}


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("breaks", "check"),
    [
        (all_target_missing, "target_coverage"),
        (attribute_nan, "static_attributes_complete"),
        (renamed_forcing, "expected_columns_present"),
    ],
)
def test_a_bad_landing_zone_input_stops_the_training_run_at_the_dataset_check(
    published: Published, breaks: Breaker, check: str
) -> None:
    storage = published.copy()
    before = model_objects(storage)
    dataset = storage.get_storage().get_bytes(DATASET_KEY)
    basin, column = breaks(storage, published.network)

    result = materialise(storage, [TRAINING_DATA, LSTM_MODEL, MODEL_EVALUATION])

    assert not result.success
    failed = {e.check_name: e for e in result.get_asset_check_evaluations() if not e.passed}
    assert check in failed
    described = str(failed[check].description)
    assert f"basin={basin}" in described and f"column={column}" in described
    assert failure_message(result)[0] == "discharge_model__training_data"
    assert step_keys_started(result) == {"discharge_model__training_data"}, "the model's steps started"
    assert model_objects(storage) == before
    assert storage.get_storage().get_bytes(DATASET_KEY) == dataset


# --- the same defects in a dataset zip that skipped the training data's checks ---------------------------


ZipBreaker = Callable[[bytes, Path], tuple[bytes, str, str]]
"""Takes the published zip (and a scratch folder); returns the broken zip, the basin and the column the
refusal must name."""


def rewrite_zip(archive: bytes, change: Callable[[str, bytes], bytes]) -> bytes:
    """The zip with every member passed through ``change(name, content)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, change(name, source.read(name)))
    return out.getvalue()


def rewrite_series(content: bytes, edit: Callable[[pd.DataFrame], pd.DataFrame], folder: Path) -> bytes:
    """A basin's netCDF read, edited as a frame and written back in the contract's form."""
    path = folder / "series.nc"
    path.write_bytes(content)
    with xr.open_dataset(path) as series:
        frame = series.to_dataframe()
    return bytes(xr.Dataset.from_dataframe(edit(frame).astype(np.float32)).to_netcdf())


def target_all_missing(archive: bytes, folder: Path) -> tuple[bytes, str, str]:
    basin, column = "150190012", "discharge_mm"

    def change(name: str, content: bytes) -> bytes:
        if name != f"time_series/{basin}.nc":
            return content
        return rewrite_series(content, lambda frame: frame.assign(**{column: np.nan}), folder)

    return rewrite_zip(archive, change), basin, column


def model_attribute_nan(archive: bytes, folder: Path) -> tuple[bytes, str, str]:
    basin, column = "150190013", "p_mean"  # a static attribute lstm.yml names

    def change(name: str, content: bytes) -> bytes:
        if name != "attributes/attributes.csv":
            return content
        table = pd.read_csv(io.BytesIO(content), dtype={"gauge_id": str})
        table.loc[table["gauge_id"] == basin, column] = np.nan
        return table.to_csv(index=False).encode()

    return rewrite_zip(archive, change), basin, column


def forcing_renamed(archive: bytes, folder: Path) -> tuple[bytes, str, str]:
    basin, column = "150190010", "precipitation_mm"

    def change(name: str, content: bytes) -> bytes:
        if name != f"time_series/{basin}.nc":
            return content
        return rewrite_series(content, lambda frame: frame.rename(columns={column: "precip_mm"}), folder)

    return rewrite_zip(archive, change), basin, column


@pytest.mark.hostile
@pytest.mark.parametrize("breaks", [target_all_missing, model_attribute_nan, forcing_renamed])
def test_a_defective_dataset_zip_is_refused_before_training(
    published: Published, tmp_path: Path, breaks: ZipBreaker
) -> None:
    storage = published.copy()
    before = model_objects(storage)
    store = storage.get_storage()
    broken, basin, column = breaks(store.get_bytes(DATASET_KEY), tmp_path)
    store.put_bytes(broken, DATASET_KEY)

    result = materialise(storage, [LSTM_MODEL, MODEL_EVALUATION])

    assert not result.success
    step, message = failure_message(result)
    assert step == "discharge_model__lstm"
    assert "the training data cannot train this model" in message, message  # refused before training
    assert f"basin={basin} column={column}" in message, message
    assert step_keys_started(result) == {"discharge_model__lstm"}
    assert model_objects(storage) == before
