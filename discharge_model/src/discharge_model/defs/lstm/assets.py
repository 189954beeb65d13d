"""The LSTM's assets: ``discharge_model/lstm`` (a trained NeuralHydrology run per region) and
``discharge_model/evaluation`` (its test-period scores beside a climatology baseline, with hydrographs).

Both read the region's training dataset straight from storage where the training-data asset publishes
it (``deps``, not an input: a zip of netCDFs is unpacked, not loaded into memory). Training happens in a
scratch folder; only a finished run is uploaded, as a new archive, and only then does the ``current.json``
pointer move to it (:mod:`.run_archive`), so a failed run never replaces the published model. Evaluation
reloads that archive, so it scores exactly what was stored, and promotes it when its checks pass
(:mod:`.promotion`; the package docstring tells the whole life of a model).

torch and NeuralHydrology load inside the asset functions (:mod:`.training`, :mod:`.evaluation`,
:mod:`.reload`): the code-location server never imports them.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata as package_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl
from pydantic import Field

from discharge_model.automation import WHEN_UPSTREAM_PASSED
from discharge_model.defs.lstm.checks import EVALUATION_CHECK_SPECS, EVALUATION_CHECKS
from discharge_model.defs.lstm.columns import EVALUATION_DESCRIPTIONS, EVALUATION_SCHEMA
from discharge_model.defs.lstm.hydrographs import hydrograph_png, markdown_image
from discharge_model.defs.lstm.nh_config import (
    DEFAULT_SETTINGS,
    MissingFeatureError,
    check_features,
    constant_attributes,
    load_settings,
    nh_config,
    settings_file_digest,
)
from discharge_model.defs.lstm.preflight import DatasetRefusedError, refuse_unusable
from discharge_model.defs.lstm.promotion import promote, promoted_key
from discharge_model.defs.lstm.run_archive import (
    current,
    fetch,
    new_run_id,
    pack,
    publish,
)
from discharge_model.defs.lstm.training_data import TrainingData, TrainingDataError, unpack
from shared.assets.discharge_model import (
    LSTM_MODEL,
    MODEL_EVALUATION,
    TRAINING_DATA,
    TRAINING_DATASET_EXT,
    TRAINING_DATASET_NAME,
)
from shared.assets.landing_zone import REGIONS
from shared.columns import described_columns
from shared.k8s import K8sOpTags
from shared.resources.duckdb_checks import DuckDBChecksResource
from shared.resources.platform import PARQUET_IO_MANAGER
from shared.resources.storage import StorageResource
from shared.storage import ObjectNotFoundError, Storage
from shared.storage.checksums import file_sha256
from shared.storage.layout import PARQUET, AssetLocation

if TYPE_CHECKING:
    from discharge_model.defs.lstm.evaluation import PeriodBounds

TRAINING_CODE_VERSION = "1"
"""Bumped when the training code changes what a given config and dataset produce."""

LSTM_CODE_VERSION = f"{TRAINING_CODE_VERSION}-{settings_file_digest(DEFAULT_SETTINGS)}"
"""The lstm asset's code version: the training code's and the versioned settings' (a changed lstm.yml
marks the model stale in the UI)."""

EVALUATION_CODE_VERSION = "1"

MAX_EMBEDDED_HYDROGRAPHS = 12
"""Hydrographs embedded in the evaluation's metadata (all are stored): about 40 kB each in the event
log, so a region with hundreds of gauges does not bloat every materialisation record."""

HYDROGRAPH_PREFIX = "hydrograph-"
PREDICTIONS_NAME = "predictions"


class LstmTrainingConfig(dg.Config):
    """Which settings to train with: the versioned ``lstm.yml`` unless told otherwise. Every override is
    part of the config hash in the metadata, so runs stay comparable."""

    settings_path: str = Field(
        default="", description="A settings YAML to use instead of the packaged lstm.yml (empty: lstm.yml)."
    )
    epochs: int | None = Field(default=None, ge=1, description="Override of the settings' epochs.")
    seq_length: int | None = Field(default=None, ge=2, description="Override of the settings' seq_length.")
    hidden_size: int | None = Field(default=None, ge=1, description="Override of the settings' hidden_size.")
    dynamic_inputs: list[str] | None = Field(default=None, description="Override of the dynamic inputs.")
    static_attributes: list[str] | None = Field(
        default=None, description="Override of the static attributes."
    )
    seed: int | None = Field(default=None, description="Override of the seed (e.g. for an ensemble member).")

    def overrides(self) -> dict[str, Any]:
        """The fields set, as settings keys."""
        fields = ("epochs", "seq_length", "hidden_size", "dynamic_inputs", "static_attributes", "seed")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}


def dataset_key(region: str) -> str:
    """Where the region's training dataset zip is published (the registry's contract)."""
    location = AssetLocation.for_partition(TRAINING_DATA, REGIONS, region)
    return location.key(TRAINING_DATASET_EXT, name=TRAINING_DATASET_NAME)


def stage_dataset(store: Storage, region: str, scratch: Path) -> tuple[TrainingData, str]:
    """Download and unpack the region's dataset; returns it and the zip's SHA-256 (its version)."""
    key = dataset_key(region)
    local = scratch / "dataset.zip"
    try:
        store.get_file(key, local)
    except ObjectNotFoundError:
        raise ObjectNotFoundError(
            f"no training data at {store.uri(key)}: materialise {TRAINING_DATA.to_user_string()} for "
            f"partition {region!r} first"
        ) from None
    digest = file_sha256(local)
    data = unpack(local, scratch / "data")
    local.unlink()
    return data, digest


@contextmanager
def refused_dataset() -> Iterator[None]:
    """A dataset that cannot train the configured model fails the step at once, not retried, with the
    basins and columns named: the same data fails the same way."""
    try:
        yield
    except (MissingFeatureError, DatasetRefusedError, TrainingDataError) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error


def package_versions() -> dict[str, str]:
    """The versions that decide what a run computes, beside the asset's code version."""
    versions = {}
    for name in ("discharge-model", "neuralhydrology", "torch"):
        try:
            versions[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dg.asset(
    key=LSTM_MODEL,
    deps=[TRAINING_DATA],
    partitions_def=REGIONS,
    automation_condition=WHEN_UPSTREAM_PASSED,
    op_tags=K8sOpTags.gpu(),
    code_version=LSTM_CODE_VERSION,
    kinds={"pytorch", "neuralhydrology"},
    description="A NeuralHydrology LSTM trained on the region's training data (cudalstm, NSE loss; settings "
    "in the versioned discharge_model/defs/lstm/lstm.yml, inputs named there by their columns; fixed seed). "
    "Trains on cuda:0 when the pod has a GPU, else on the CPU; epoch losses stream to the step log. The run "
    "directory (weights, scalers, NeuralHydrology config, training log) is stored as a new, never rewritten "
    "run-{run_id}.zip, and current.json points at it once the upload is complete: a failed run leaves the "
    "published model untouched. Metadata: archive, config hash and settings, code and package versions, "
    "input data versions, epoch losses, device and wall time.",
)
def lstm_model(
    context: dg.AssetExecutionContext, config: LstmTrainingConfig, storage: StorageResource
) -> dg.MaterializeResult:
    """Train, archive, then publish: the pointer moves only after the archive is stored."""
    from discharge_model.defs.lstm.training import pick_device, train

    region = context.partition_key
    store = storage.get_storage()
    settings_path = Path(config.settings_path) if config.settings_path else DEFAULT_SETTINGS
    settings = load_settings(settings_path, config.overrides())
    location = AssetLocation.for_partition(LSTM_MODEL, REGIONS, region)
    with tempfile.TemporaryDirectory(prefix="lstm-") as folder:
        scratch = Path(folder)
        with refused_dataset():
            data, data_sha256 = stage_dataset(store, region, scratch)
            check_features(settings, data)
            refuse_unusable(data, settings.dynamic_inputs, settings.static_attributes, settings.target)
        dropped = constant_attributes(settings.static_attributes, data)
        if dropped:
            context.log.warning(f"static attributes {dropped} do not vary over the basins: left out")
        statics = [name for name in settings.static_attributes if name not in dropped]
        device = pick_device(settings.device)
        run_id = new_run_id(context.run.run_id)
        context.log.info(
            f"training {len(data.basins)} basin(s) of {region} on {device}, config {settings.config_hash()}"
        )
        run_config = nh_config(settings, data, scratch / "runs", f"lstm_{region}", device, statics)
        trained = train(run_config, settings.cpu_threads, context.log.info, context.log.debug)
        archive = pack(trained.run_dir, scratch / "run.zip")
        record = {
            "region": region,
            "config_hash": settings.config_hash(),
            "settings": settings.model_dump(mode="json"),
            "static_attributes_used": statics,
            "code_version": LSTM_CODE_VERSION,
            "packages": package_versions(),
            "training_data": {"key": dataset_key(region), "sha256": data_sha256},
            "input_versions": dict(data.input_versions),
            "periods": {name: [day.isoformat() for day in bounds] for name, bounds in data.periods.items()},
            "basins": list(data.basins),
            "device": device,
            "dagster_run_id": context.run.run_id,
        }
        published = publish(store, location, archive, run_id, record)
    losses = trained.log.epoch_losses
    epochs = len(losses)
    context.log.info(f"stored {published.uri}; current.json points at it")
    metadata: dict[str, Any] = {
        "run_id": dg.MetadataValue.text(run_id),
        "archive_uri": dg.MetadataValue.path(published.uri),
        "archive_key": dg.MetadataValue.text(published.key),
        "archive_bytes": dg.MetadataValue.int(published.size),
        "archive_sha256": dg.MetadataValue.text(published.sha256),
        "config_hash": dg.MetadataValue.text(settings.config_hash()),
        "settings": dg.MetadataValue.json(settings.model_dump(mode="json")),
        "code_version": dg.MetadataValue.text(LSTM_CODE_VERSION),
        "packages": dg.MetadataValue.json(package_versions()),
        "training_data_sha256": dg.MetadataValue.text(data_sha256),
        "input_versions": dg.MetadataValue.json(dict(data.input_versions)),
        "basins": dg.MetadataValue.int(len(data.basins)),
        "dynamic_inputs": dg.MetadataValue.json(list(settings.dynamic_inputs)),
        "static_attributes": dg.MetadataValue.json(statics),
        "static_attributes_left_out": dg.MetadataValue.json(dropped),
        "epochs": dg.MetadataValue.int(epochs),
        "epoch_losses": dg.MetadataValue.json({str(epoch): loss for epoch, loss in sorted(losses.items())}),
        "final_loss": dg.MetadataValue.float(trained.final_loss),
        "device": dg.MetadataValue.text(device),
        "wall_s": dg.MetadataValue.float(round(trained.wall_seconds, 1)),
        "seconds_per_epoch": dg.MetadataValue.float(round(trained.wall_seconds / max(epochs, 1), 2)),
    }
    if trained.log.validation_median_nse is not None:
        metadata["validation_median_nse"] = dg.MetadataValue.float(trained.log.validation_median_nse)
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(run_id))


@dg.asset(
    key=MODEL_EVALUATION,
    metadata=described_columns(MODEL_EVALUATION.to_user_string(), EVALUATION_SCHEMA, EVALUATION_DESCRIPTIONS),
    deps=[LSTM_MODEL, TRAINING_DATA],
    partitions_def=REGIONS,
    check_specs=EVALUATION_CHECK_SPECS,
    automation_condition=WHEN_UPSTREAM_PASSED,
    io_manager_key=PARQUET_IO_MANAGER,
    op_tags=K8sOpTags.medium(),
    code_version=EVALUATION_CODE_VERSION,
    kinds={"parquet", "pytorch", "neuralhydrology"},
    description="The published LSTM run (current.json of discharge_model/lstm) scored per basin on its test "
    "period against a naive baseline, the smoothed day-of-year climatology of the training period's observed "
    "discharge: NSE, KGE and its r, alpha, beta, volume bias (%), peak timing (mean absolute lag of the 5 "
    "largest peaks, 3-day window). part.parquet holds one row per basin (lstm_*, climatology_*, nse_gain); "
    "predictions.parquet the simulated series; hydrograph-{basin}.png one plot per gauge (observed, LSTM, "
    "climatology; test period shaded), embedded in the metadata. Medians in the metadata. When every "
    "evaluation check passes, promoted.json names this model as the one predictions use.",
)
def model_evaluation(
    context: dg.AssetExecutionContext, storage: StorageResource, duckdb: DuckDBChecksResource
) -> Iterator[Any]:
    """Reload the stored model, score it, store the plots beside the table, and promote it when every
    evaluation check passed (:mod:`.promotion`)."""
    region = context.partition_key
    store = storage.get_storage()
    model = current(store, AssetLocation.for_partition(LSTM_MODEL, REGIONS, region))
    location = AssetLocation.for_partition(MODEL_EVALUATION, REGIONS, region)
    with tempfile.TemporaryDirectory(prefix="lstm-evaluation-") as folder:
        scored = score_stored_model(store, region, model, Path(folder), context.log)
    stored = store_side_objects(store, location, scored.predictions, scored.hydrographs)
    results = list(duckdb.check_frame(MODEL_EVALUATION, EVALUATION_CHECKS, scored.table))
    passed = all(result.passed for result in results)
    metadata = evaluation_metadata(scored, model, stored)
    metadata["promoted"] = dg.MetadataValue.bool(passed)
    yield from results
    yield dg.Output(scored.table, metadata=metadata)
    if passed:  # after the table is stored: promoted.json never names a model without its scores
        promote(store, location, model, {**median_scores(scored.table), "dagster_run_id": context.run.run_id})
        context.log.info(f"every evaluation check passed: model {model['run_id']} is promoted")
    else:
        failed = sorted(result.check_name for result in results if not result.passed)
        context.log.warning(
            f"evaluation check(s) {failed} failed: model {model['run_id']} is not promoted, "
            f"{promoted_key(location)} stays as it was"
        )


@dataclass(frozen=True)
class ScoredModel:
    """A stored model's simulation and scores: the per-basin table, the simulated series, the plots."""

    table: pl.DataFrame
    predictions: pl.DataFrame
    hydrographs: dict[str, bytes]
    test: "PeriodBounds"


def score_stored_model(
    store: Storage, region: str, model: dict[str, Any], scratch: Path, log: Any
) -> ScoredModel:
    """Fetch the model ``model`` (a pointer record) and the region's dataset into ``scratch``, simulate the
    validation and test periods, and score the test period beside the climatology."""
    from discharge_model.defs.lstm.evaluation import (
        metrics_table,
        period_bounds,
        predictions_table,
        simulate,
        training_observations,
        with_climatology,
    )
    from discharge_model.defs.lstm.reload import run_config
    from discharge_model.defs.lstm.training import pick_device

    data, data_sha256 = stage_dataset(store, region, scratch)
    trained_on = model.get("training_data", {}).get("sha256")
    if trained_on != data_sha256:
        log.warning(
            f"the training data changed since model {model['run_id']} was trained (sha256 {trained_on} "
            f"then, {data_sha256} now): scoring the stored model on the current data"
        )
    run_dir = fetch(store, model["archive"], scratch / "model", model.get("sha256"))
    config = run_config(run_dir, data.data_dir, pick_device("auto"))
    train, test = period_bounds(config, "train"), period_bounds(config, "test")
    target = config.target_variables[0]
    series = {
        basin: with_climatology(frame, training_observations(data, basin, target, train))
        for basin, frame in simulate(config, run_dir).items()
    }
    missing = sorted(set(data.basins) - set(series))
    if missing:
        log.warning(f"no test data for basin(s) {missing}: not scored")
    table = metrics_table(series, test, data.gauge_catchments, model["run_id"])
    rows = {row["basin"]: row for row in table.iter_rows(named=True)}
    hydrographs = {
        basin: hydrograph_png(
            f"{basin} ({region}): test NSE LSTM {rows[basin]['lstm_nse']:.2f}, climatology "
            f"{rows[basin]['climatology_nse']:.2f}",
            frame.index,
            frame["observed"].to_numpy(),
            frame["lstm"].to_numpy(),
            frame["climatology"].to_numpy(),
            test.start,
            test.end,
        )
        for basin, frame in series.items()
    }
    return ScoredModel(table, predictions_table(series), hydrographs, test)


def store_side_objects(
    store: Storage, location: AssetLocation, predictions: pl.DataFrame, hydrographs: dict[str, bytes]
) -> dict[str, str]:
    """Store the predictions and one PNG per gauge in the evaluation's folder; ``{name: URI}``.

    Plots of gauges no longer evaluated are removed, so the folder shows exactly the current evaluation.
    """
    stored = {}
    with store.writer(location.key(PARQUET, name=PREDICTIONS_NAME)) as path:
        predictions.write_parquet(path, compression="zstd")
    stored[PREDICTIONS_NAME] = store.uri(location.key(PARQUET, name=PREDICTIONS_NAME))
    wanted = {location.key("png", name=f"{HYDROGRAPH_PREFIX}{basin}"): basin for basin in hydrographs}
    for key, basin in wanted.items():
        store.put_bytes(hydrographs[basin], key)
        stored[basin] = store.uri(key)
    for listed in store.list(location.folder + HYDROGRAPH_PREFIX):
        if listed.key.endswith(".png") and listed.key not in wanted:
            store.delete(listed.key)
    return stored


def median_scores(table: pl.DataFrame) -> dict[str, float | str]:
    """The medians over the basins (NaN scores left out) and how many basins beat the climatology."""

    def median(column: str) -> float:
        value = table[column].drop_nulls().drop_nans().median()
        return float(value) if isinstance(value, int | float) else float("nan")

    beats = int((table["nse_gain"] > 0).sum())
    return {
        **{
            f"median_{column}": median(column)
            for column in (
                "lstm_nse",
                "lstm_kge",
                "climatology_nse",
                "climatology_kge",
                "lstm_bias_pct",
                "lstm_peak_timing_days",
            )
        },
        "basins_lstm_beats_climatology": f"{beats}/{table.height}",
    }


def evaluation_metadata(scored: ScoredModel, model: dict[str, Any], stored: dict[str, str]) -> dict[str, Any]:
    """Medians, what was evaluated, where the side objects are, and the first hydrographs inline."""
    test = scored.test
    metadata: dict[str, Any] = {
        "model_run": dg.MetadataValue.text(model["run_id"]),
        "model_archive": dg.MetadataValue.text(model["archive"]),
        "config_hash": dg.MetadataValue.text(str(model.get("config_hash"))),
        "test_period": dg.MetadataValue.text(f"{test.start.date()}..{test.end.date()}"),
        "basins": dg.MetadataValue.int(scored.table.height),
        **{
            name: dg.MetadataValue.float(value) if isinstance(value, float) else dg.MetadataValue.text(value)
            for name, value in median_scores(scored.table).items()
        },
        "predictions_uri": dg.MetadataValue.path(stored[PREDICTIONS_NAME]),
        "hydrograph_uris": dg.MetadataValue.json({k: v for k, v in stored.items() if k != PREDICTIONS_NAME}),
        "training_data_versions": dg.MetadataValue.json(model.get("input_versions", {})),
    }
    for basin in sorted(scored.hydrographs)[:MAX_EMBEDDED_HYDROGRAPHS]:
        png = scored.hydrographs[basin]
        metadata[f"hydrograph_{basin}"] = dg.MetadataValue.md(markdown_image(png, basin))
    return metadata
