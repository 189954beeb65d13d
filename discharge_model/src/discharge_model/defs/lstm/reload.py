"""A stored run directory made usable again somewhere else: its configuration re-pointed to where the
archive and the dataset were unpacked, so NeuralHydrology's tester rebuilds the model from its weights.

A run's ``config.yml`` names the scratch folders it was trained in (data, run directory, basin files),
which no longer exist when the archive is unpacked by another step or pod. :func:`run_config` reads it and
replaces exactly those paths, so everything that defines the model (architecture, inputs, periods, seed)
comes from the stored run, never from the current versioned settings.

NeuralHydrology is imported inside :func:`run_config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from discharge_model.defs.lstm.training_data import BASIN_FILE, PERIODS

RUN_CONFIG = "config.yml"


def run_config(run_dir: Path, data_dir: Path, device: str) -> Any:
    """The run's NeuralHydrology ``Config``, reading every basin of ``data_dir`` on ``device``."""
    from neuralhydrology.utils.config import Config

    config_path = run_dir / RUN_CONFIG
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir} holds no {RUN_CONFIG}: not a NeuralHydrology run directory")
    config = Config(config_path)
    basin_file = data_dir / BASIN_FILE
    basins = [line for line in basin_file.read_text().splitlines() if line.strip()]
    config.update_config(
        {
            "run_dir": str(run_dir),
            "data_dir": str(data_dir),
            "device": device,
            **{f"{period}_basin_file": str(basin_file) for period in PERIODS},
            # NeuralHydrology's tester evaluates a random subset of this many basins in the validation
            # period: all of them, however many the data holds now
            "validate_n_random_basins": len(basins),
        }
    )
    return config
