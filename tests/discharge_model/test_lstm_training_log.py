"""NeuralHydrology's log while it trains: forwarded line by line, epoch losses parsed, and every global
change it makes to logging undone afterwards (a Dagster step process outlives one training)."""

import logging
import sys
from pathlib import Path

import pytest

from discharge_model.defs.lstm.training import TrainingLog, contained_logging, pick_device, torch_threads


def test_epoch_and_validation_lines_are_parsed() -> None:
    log = TrainingLog()
    assert log.read("Epoch 1 average loss: avg_loss: 2.01981, avg_total_loss: 2.01981")
    assert log.read("Epoch 2 average loss: avg_loss: 1.12264, avg_total_loss: 1.12264")
    assert log.read(
        "Epoch 2 average validation loss: 0.26335 -- Median validation metrics: "
        "avg_loss: 0.26335, NSE: 0.84215"
    )
    assert not log.read("### Folder structure created at /tmp/x")
    assert log.epoch_losses == {1: 2.01981, 2: 1.12264}
    assert (log.validation_loss, log.validation_median_nse) == (0.26335, 0.84215)


def test_the_log_is_forwarded_and_neuralhydrologys_global_setup_undone(tmp_path: Path) -> None:
    from neuralhydrology.utils.logging_utils import setup_logging

    root = logging.getLogger()
    handlers_before, level_before, hook_before = list(root.handlers), root.level, sys.excepthook
    info: list[str] = []
    debug: list[str] = []
    with contained_logging(tmp_path / "training.log", info.append, debug.append) as log:
        setup_logging(str(tmp_path / "output.log"))  # what NeuralHydrology's trainer does on start
        trainer = logging.getLogger("neuralhydrology.training.basetrainer")
        trainer.info("### Device cpu will be used for training")
        trainer.info("Epoch 1 average loss: avg_loss: 0.5, avg_total_loss: 0.5")
        trainer.warning("Loss is Nan; ignoring step. (#1/0)")
    assert info == [
        "neuralhydrology: Epoch 1 average loss: avg_loss: 0.5, avg_total_loss: 0.5",
        "neuralhydrology: Loss is Nan; ignoring step. (#1/0)",
    ]
    # the rest at DEBUG: setup_logging's own line, then the trainer's
    assert debug[-1] == "neuralhydrology: ### Device cpu will be used for training"
    assert all("Epoch" not in message for message in debug)
    assert log.epoch_losses == {1: 0.5}
    assert "Epoch 1 average loss" in (tmp_path / "training.log").read_text()
    assert root.handlers == handlers_before and root.level == level_before
    assert sys.excepthook is hook_before
    logging.getLogger("neuralhydrology.training.basetrainer").info(
        "Epoch 2 average loss: avg_total_loss: 0.1"
    )
    assert len(info) == 2  # nothing forwarded once the block is left


def test_threads_are_restored_and_the_device_follows_the_machine() -> None:
    import torch

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert pick_device("auto") == expected
    assert pick_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no GPU"):
            pick_device("cuda")
