"""Train one NeuralHydrology run in a scratch directory, with its log forwarded as it is written.

NeuralHydrology logs through the standard ``logging`` module and, on start, configures the *root* logger
(``logging.basicConfig``) and replaces ``sys.excepthook``: fine for its command line, a leak in a Dagster
step process (and in the in-process executor of tests, which would keep printing every library's INFO
lines afterwards). :func:`contained_logging` lets it do that, forwards its records to a callback (the
step's ``context.log``: epoch losses appear in the Dagster UI while training runs), writes them to a log
file in the run directory whatever the root logger's state, and restores the root logger, the excepthook
and torch's thread count afterwards.

This module imports torch and NeuralHydrology: import it inside asset functions only.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

NH_LOGGER = "neuralhydrology"
TRAINING_LOG = "training.log"
"""The forwarded log, written into the run directory so the archive keeps it."""

EPOCH_LOSS = re.compile(r"Epoch (?P<epoch>\d+) average loss: .*?avg_total_loss: (?P<loss>[-+0-9.eE]+|nan)")
VALIDATION = re.compile(
    r"Epoch (?P<epoch>\d+) average validation loss: (?P<loss>[-+0-9.eE]+|nan)"
    r"(?:.*?NSE: (?P<nse>[-+0-9.eE]+|nan))?"
)


class TrainingFailedError(RuntimeError):
    """NeuralHydrology stopped without a usable run directory; the message says where it stopped."""


@dataclass
class TrainingLog:
    """What the forwarded log said: the loss of every epoch and the final validation."""

    epoch_losses: dict[int, float] = field(default_factory=dict)
    validation_loss: float | None = None
    validation_median_nse: float | None = None

    def read(self, message: str) -> bool:
        """Record an epoch or validation line; True when it was one (the caller logs those at INFO)."""
        if (validation := VALIDATION.search(message)) is not None:
            self.validation_loss = float(validation["loss"])
            if validation["nse"] is not None:
                self.validation_median_nse = float(validation["nse"])
            return True
        if (epoch := EPOCH_LOSS.search(message)) is not None:
            self.epoch_losses[int(epoch["epoch"])] = float(epoch["loss"])
            return True
        return False


@dataclass(frozen=True)
class TrainedRun:
    """A finished NeuralHydrology run directory and what training reported."""

    run_dir: Path
    device: str
    log: TrainingLog
    wall_seconds: float

    @property
    def final_loss(self) -> float:
        """The last epoch's mean training loss."""
        return self.log.epoch_losses[max(self.log.epoch_losses)]


class _Forwarder(logging.Handler):
    """Hands NeuralHydrology's records to the callbacks: epoch and validation lines at INFO, warnings as
    warnings, the rest (the config dump, folder names) at DEBUG."""

    def __init__(self, info: Callable[[str], None], debug: Callable[[str], None], log: TrainingLog) -> None:
        super().__init__(level=logging.INFO)
        self._info, self._debug, self._log = info, debug, log

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self._log.read(message) or record.levelno >= logging.WARNING:
            self._info(f"neuralhydrology: {message}")
        else:
            self._debug(f"neuralhydrology: {message}")


@contextmanager
def contained_logging(
    log_file: Path, info: Callable[[str], None], debug: Callable[[str], None]
) -> Iterator[TrainingLog]:
    """Forward NeuralHydrology's log to the callbacks and ``log_file`` for the block, then undo every
    global change it made (root handlers and level, excepthook)."""
    root = logging.getLogger()
    nh_logger = logging.getLogger(NH_LOGGER)
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_nh_level, saved_hook = nh_logger.level, sys.excepthook
    training_log = TrainingLog()
    forwarder = _Forwarder(info, debug, training_log)
    file_handler = logging.FileHandler(log_file)
    file_handler.setFormatter(logging.Formatter("%(asctime)s: %(message)s"))
    nh_logger.setLevel(logging.INFO)
    nh_logger.addHandler(forwarder)
    nh_logger.addHandler(file_handler)
    try:
        yield training_log
    finally:
        nh_logger.removeHandler(forwarder)
        nh_logger.removeHandler(file_handler)
        file_handler.close()
        nh_logger.setLevel(saved_nh_level)
        for handler in [h for h in root.handlers if h not in saved_handlers]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(saved_level)
        sys.excepthook = saved_hook


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch CPU threads (None: leave torch's choice), restoring it after."""
    saved = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def pick_device(wanted: str) -> str:
    """``cuda:0`` when asked for or (``auto``) when the pod has a GPU, else ``cpu``; asking for cuda on a
    machine without one is an error rather than a silent, slow CPU run."""
    available = torch.cuda.is_available()
    if wanted == "cuda" and not available:
        raise RuntimeError("device: cuda was configured but torch sees no GPU on this machine")
    if wanted == "cpu" or not available:
        return "cpu"
    return "cuda:0"


def train(
    config: dict[str, Any],
    cpu_threads: int | None,
    info: Callable[[str], None],
    debug: Callable[[str], None] = lambda message: None,
) -> TrainedRun:
    """Train NeuralHydrology's run ``config`` (from :func:`.nh_config.nh_config`); returns its run dir.

    The run directory is created by NeuralHydrology inside ``config["run_dir"]``, which must be a scratch
    folder of this step: nothing is published here.
    """
    from neuralhydrology.training.train import start_training
    from neuralhydrology.utils.config import Config

    run_root = Path(config["run_dir"])
    run_root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    nh_config = Config(dict(config))
    with contained_logging(run_root / TRAINING_LOG, info, debug) as training_log, torch_threads(cpu_threads):
        start_training(nh_config)
    run_dir = Path(nh_config.run_dir)
    weights = sorted(run_dir.glob("model_epoch*.pt"))
    if not weights or not training_log.epoch_losses:
        raise TrainingFailedError(f"training ended without weights or epoch losses in {run_dir}")
    (run_root / TRAINING_LOG).replace(run_dir / TRAINING_LOG)
    return TrainedRun(
        run_dir=run_dir,
        device=str(config["device"]),
        log=training_log,
        wall_seconds=time.perf_counter() - started,
    )
