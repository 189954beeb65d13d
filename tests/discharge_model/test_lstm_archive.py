"""Stored model runs on both storage flavours: an archive per run, never rewritten, a pointer written last,
and a reload that checks the bytes it got."""

import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest

from discharge_model.defs.lstm.run_archive import (
    ModelNotFoundError,
    archive_key,
    current,
    fetch,
    new_run_id,
    pack,
    pointer_key,
    publish,
)
from shared.assets.discharge_model import LSTM_MODEL
from shared.assets.landing_zone import REGIONS
from shared.resources.storage import StorageResource
from shared.storage import StorageError
from shared.storage.layout import AssetLocation

LOCATION = AssetLocation.for_partition(LSTM_MODEL, REGIONS, "pilica")


def run_dir(folder: Path, weights: bytes = b"weights-1") -> Path:
    (folder / "train_data").mkdir(parents=True)
    (folder / "config.yml").write_text("model: cudalstm\n")
    (folder / "model_epoch015.pt").write_bytes(weights)
    (folder / "train_data" / "train_data_scaler.yml").write_text("xarray_feature_center: {}\n")
    return folder


def test_run_ids_sort_by_time_and_keep_the_dagster_run() -> None:
    early = new_run_id(
        "1a2b3c4d-0000-4000-8000-000000000000", dt.datetime(2025, 1, 15, 10, 30, tzinfo=dt.UTC)
    )
    late = new_run_id("ffffffff-0000-4000-8000-000000000000", dt.datetime(2025, 1, 15, 10, 31, tzinfo=dt.UTC))
    assert early == "20250115T103000Z-1a2b3c4d"
    assert sorted([late, early]) == [early, late]
    assert (
        archive_key(LOCATION, early)
        == "discharge_model/lstm/partition=pilica/run-20250115T103000Z-1a2b3c4d.zip"
    )
    assert pointer_key(LOCATION) == "discharge_model/lstm/partition=pilica/current.json"


def test_publish_then_reload_on_either_storage(any_storage: StorageResource, tmp_path: Path) -> None:
    store = any_storage.get_storage()
    with pytest.raises(ModelNotFoundError, match="materialise the lstm asset"):
        current(store, LOCATION)
    archive = pack(run_dir(tmp_path / "run"), tmp_path / "run.zip")
    assert sorted(zipfile.ZipFile(archive).namelist()) == [
        "config.yml",
        "model_epoch015.pt",
        "train_data/train_data_scaler.yml",
    ]
    published = publish(store, LOCATION, archive, "20250115T103000Z-1a2b3c4d", {"config_hash": "abc"})
    pointer = current(store, LOCATION)
    assert pointer == published.record
    assert pointer["archive"] == archive_key(LOCATION, "20250115T103000Z-1a2b3c4d")
    assert pointer["config_hash"] == "abc"
    reloaded = fetch(store, pointer["archive"], tmp_path / "reloaded", pointer["sha256"])
    assert (reloaded / "model_epoch015.pt").read_bytes() == b"weights-1"
    assert (reloaded / "train_data" / "train_data_scaler.yml").is_file()


def test_a_stored_run_is_never_rewritten_and_a_new_one_moves_the_pointer(
    local_storage: StorageResource, tmp_path: Path
) -> None:
    store = local_storage.get_storage()
    first = publish(store, LOCATION, pack(run_dir(tmp_path / "a"), tmp_path / "a.zip"), "run-a", {})
    second_archive = pack(run_dir(tmp_path / "b", b"weights-2"), tmp_path / "b.zip")
    with pytest.raises(StorageError, match="never overwritten"):
        publish(store, LOCATION, second_archive, "run-a", {})
    assert current(store, LOCATION)["archive"] == first.key
    second = publish(store, LOCATION, second_archive, "run-b", {})
    assert current(store, LOCATION)["archive"] == second.key
    assert store.exists(first.key)  # the earlier model can still be reloaded and compared
    old = fetch(store, first.key, tmp_path / "old", first.sha256)
    assert (old / "model_epoch015.pt").read_bytes() == b"weights-1"


@pytest.mark.hostile
def test_a_tampered_or_missing_archive_is_refused(local_storage: StorageResource, tmp_path: Path) -> None:
    store = local_storage.get_storage()
    published = publish(store, LOCATION, pack(run_dir(tmp_path / "a"), tmp_path / "a.zip"), "run-a", {})
    with pytest.raises(StorageError, match="SHA-256"):
        fetch(store, published.key, tmp_path / "x", "0" * 64)
    store.delete(published.key)
    with pytest.raises(ModelNotFoundError, match="missing"):
        fetch(store, published.key, tmp_path / "y")
    store.put_bytes(json.dumps({"archive": published.key}).encode(), pointer_key(LOCATION))
    assert current(store, LOCATION)["archive"] == published.key
