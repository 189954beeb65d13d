"""Which trained model is promoted: the one whose latest evaluation passed every evaluation check.

Training publishes a model (``current.json`` of the lstm asset names the newest finished run); that is the
candidate. Its evaluation scores it on the test period beside the climatology baseline and runs the
evaluation checks (:mod:`.checks`); only when all of them pass does it write ``promoted.json`` in the
evaluation partition's folder: the model's pointer record plus what the evaluation found. Whatever uses
the model for predictions reads ``promoted.json``, so a retrained model that scores worse than the
calendar, or cannot be scored at some gauge, stays a candidate, and the last model that passed stays in
use. The write is one atomic object (storage contract). Nothing here imports Dagster or torch.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from discharge_model.defs.lstm.run_archive import stored_record
from shared.storage import Storage
from shared.storage.layout import JSON, AssetLocation

PROMOTED_NAME = "promoted"
"""``promoted.json`` in the evaluation partition's folder."""


class NoPromotedModelError(LookupError):
    """No evaluation of the partition has passed yet."""


def promoted_key(evaluation: AssetLocation) -> str:
    """The key of the partition's ``promoted.json``."""
    return evaluation.key(JSON, name=PROMOTED_NAME)


def promote(
    storage: Storage, evaluation: AssetLocation, model: dict[str, Any], scores: dict[str, Any]
) -> dict[str, Any]:
    """Point ``promoted.json`` at ``model`` (the lstm's pointer record that was evaluated), with the
    evaluation's ``scores``; returns the record written."""
    record = {
        **model,
        "evaluation": scores,
        "promoted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    storage.put_bytes(
        json.dumps(record, indent=2, sort_keys=True, default=str).encode(), promoted_key(evaluation)
    )
    return record


def promoted(storage: Storage, evaluation: AssetLocation) -> dict[str, Any]:
    """The promoted model's record; :class:`NoPromotedModelError` before any evaluation passed."""
    key = promoted_key(evaluation)
    return stored_record(
        storage,
        key,
        NoPromotedModelError(
            f"no promoted model at {storage.uri(key)}: no evaluation of this partition has passed yet"
        ),
    )
