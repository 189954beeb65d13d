"""Asset keys produced by the ``discharge_model`` code location."""

from dagster import AssetKey

MODEL_GRID_ELEVATION = AssetKey(["discharge_model", "model_grid_elevation"])
"""Terrain averaged onto the model's coarse grid (COG)."""

MODEL_CELL_ATTRIBUTES = AssetKey(["discharge_model", "model_cell_attributes"])
"""Static attributes per model grid cell: elevation and slope (Parquet)."""

GAUGE_CATCHMENTS = AssetKey(["discharge_model", "gauge_catchments"])
"""Each hydro gauge of a region matched to the progressive catchment it measures (Parquet, per region).

One row per gauge of the region's station list that lies within the search distance of the region's
reach catchments: ``gauge`` (the station code), ``gauge_name``, ``river``, ``x``, ``y`` (the gauge in the
region's CRS), ``catchment_id`` (the matched reach's id = the progressive catchment's ``reach_id``; null
when no reach lies within the search distance), ``match_distance_m`` (gauge to the matched reach's line;
for an unmatched gauge to the nearest reach), ``search_distance_m`` and ``cell_size_m`` (the analysis cell
it was derived from), ``tied_reaches`` (reaches as near as the chosen one within half a cell; the larger
upstream area won), ``catchment_area_km2`` (the progressive catchment's area), ``area_at_gauge_km2``
(the provider's area when the station list has one, else the area upstream of the gauge's position along
the reach), ``area_ratio`` (``catchment_area_km2 / area_at_gauge_km2``), ``area_ratio_basis``
(``provider`` or ``along_reach``), ``area_ratio_min``, ``area_ratio_max`` (the accepted range) and
``conditioning`` (the catchments' DEM conditioning strategy). Primary key ``gauge``; published only when
every gauge is matched, each catchment has one gauge and every area ratio is in range."""

TRAINING_DATA = AssetKey(["discharge_model", "training_data"])
"""The dataset NeuralHydrology's ``GenericDataset`` reads, per region (contract of the LSTM's input).

One zip object per region at ``AssetLocation.for_partition(TRAINING_DATA, REGIONS, region)
.key(TRAINING_DATASET_EXT, name=TRAINING_DATASET_NAME)`` (``discharge_model/training_data/
partition={region}/dataset.zip``), holding exactly::

    time_series/{basin}.nc      # xarray Dataset, coordinate ``date`` (datetime64[ns], daily, contiguous
                                # from the train start to the test end), one float32 data variable per
                                # dynamic input column and the target ``discharge_mm``
    attributes/attributes.csv   # first column ``gauge_id`` (= basin), then one column per static attribute
    basins.txt                  # one basin id per line (basin = gauge code), sorted
    dataset.json                # {"periods": {"train": [start, end], "validation": [...], "test": [...]}
                                #  (ISO dates, inclusive), "dynamic_inputs": [...],
                                #  "static_attributes": [...], "target": "discharge_mm",
                                #  "input_versions": {asset key: "sha256:<hex of the stored object read>"},
                                #  "gauge_catchments": {basin: catchment_id}, plus "region",
                                #  "conditioning", "units": {column: unit}, "input_objects": {asset key: URI}}

``discharge_mm`` is specific discharge in mm/day, ``Q [m3/s] * 86.4 / catchment area [km2]``, from valid
polished values only; a missing or invalid day is NaN, which NeuralHydrology leaves out of the loss.
Dynamic inputs and static attributes are free of NaN over the whole span. Beside it the asset's own
``part.parquet`` is a per-basin summary: ``basin``, ``catchment_id``, ``area_km2``, ``match_distance_m``,
``coverage_train``, ``coverage_validation``, ``coverage_test`` (share of the period's days with a valid
target). Both are published only when every blocking check passed: a failed run leaves the previous
dataset untouched (its candidate is kept beside it as ``candidate.zip``)."""

TRAINING_DATASET_NAME = "dataset"
"""Object name of the training dataset zip in its partition's folder (see :data:`TRAINING_DATA`)."""

TRAINING_DATASET_EXT = "zip"
"""Extension of the training dataset object (see :data:`TRAINING_DATA`)."""

LSTM_MODEL = AssetKey(["discharge_model", "lstm"])
"""The trained NeuralHydrology LSTM per region (reads :data:`TRAINING_DATA`).

In the partition's folder (``discharge_model/lstm/partition={region}/``): one ``run-{run_id}.zip`` per
successful training, never rewritten (``run_id`` = ``{UTC time %Y%m%dT%H%M%SZ}-{first 8 hex of the Dagster
run id}``), holding NeuralHydrology's run directory at its root: ``config.yml`` (its run configuration),
``model_epoch{NNN}.pt`` (the last epoch's weights), ``optimizer_state_epoch{NNN}.pt``,
``train_data/train_data_scaler.yml`` (the input and target scalers), ``training.log``; and
``current.json``, written after the archive is complete, naming the published run: ``archive`` (its key),
``run_id``, ``sha256``, ``size``, ``config_hash``, ``settings``, ``code_version``, ``packages``,
``training_data`` (key and SHA-256 of the dataset zip trained on), ``input_versions`` (the dataset's own),
``periods``, ``basins``, ``device``. Readers take the model ``current.json`` names; a failed training
never moves it. The materialisation's data version is the ``run_id``."""

MODEL_EVALUATION = AssetKey(["discharge_model", "evaluation"])
"""The published LSTM (``current.json`` of :data:`LSTM_MODEL`) scored on its test period, per region.

``part.parquet``: one row per basin: ``basin``, ``catchment_id``, ``model_run`` (the run id scored),
``test_start``, ``test_end`` (Date), ``valid_days``, and for the LSTM (``lstm_``) and the day-of-year
climatology baseline (``climatology_``) each of ``nse``, ``kge``, ``kge_r``, ``kge_alpha``, ``kge_beta``,
``bias_pct`` (100 x (sum sim - sum obs) / sum obs), ``peak_timing_days`` (mean absolute lag of the largest
observed peaks within a 3-day window), then ``nse_gain`` (LSTM NSE - climatology NSE); NaN where a score is
undefined. Beside it ``predictions.parquet`` (``basin``, ``date``, ``period`` of validation/test,
``observed``, ``lstm``, ``climatology``, all in mm/day) and ``hydrograph-{basin}.png`` per gauge. Medians of
NSE and KGE in the materialisation metadata.

``promoted.json`` (written only by an evaluation whose checks all passed, after its table is stored) names
the promoted model, the one predictions use: the evaluated ``current.json`` record of :data:`LSTM_MODEL`
(``archive``, ``run_id``, ``sha256``, ``config_hash``, ...) plus ``evaluation`` (the medians, the
``basins_lstm_beats_climatology`` count, the ``dagster_run_id`` of the evaluation) and ``promoted_at``
(UTC). An evaluation that fails a check leaves it as it was."""

DISCHARGE_FORECAST = AssetKey(["discharge_model", "discharge_forecast"])
"""Daily discharge forecast per weather-model run (one partition of
:data:`shared.assets.landing_zone.FORECAST_RUNS`; the region is run config, by default the regions
file's only one) from the promoted model (``promoted.json`` of :data:`MODEL_EVALUATION`), for every
progressive catchment of the region and lead day of
:data:`shared.assets.landing_zone.CATCHMENT_FORECAST_FORCINGS`. The model reads the observed forcings
through the day before the run's UTC day (the run is refused, naming the dates, when they end earlier)
and the run's forecast forcings from that day on.

``part.parquet``: one row per progressive catchment (= reach) and lead day: ``catchment_id``, ``gauge``
(the gauge matched to it by :data:`GAUGE_CATCHMENTS`, null if none), ``run_time`` (Datetime UTC),
``date``, ``lead_day`` (Int32, 1 = the run's day), ``area_km2``, ``discharge_mm`` (the model's specific
discharge, mm/day, clipped at 0), ``discharge_m3s`` (the same in m3/s, ``mm * area_km2 / 86.4``),
``local_inflow_m3s`` (the reach's own inflow: its progressive discharge minus its direct upstream
reaches'; may be negative, the local inflows of a basin sum to its outlet's discharge),
``corrected_m3s`` (the forecast issued at gauges: the model plus its error on the day of the gauge's
last valid observation within a few days before the run's day, carried over the horizon, clipped at 0;
the model itself at a gauge without such an observation; null where there is no gauge),
``last_observed_m3s`` and ``last_observed_date`` (that observation, the persistence forecast; null
without one), ``model_run`` (the run id of the promoted model). Beside it ``reaches.fgb``: the region's
forecast reaches (``reach_id``, ``downstream_id``, ``gauge``, ``run_time`` as ISO text, ``model_run``)
with ``q_lead{n}_m3s`` and ``local_lead{n}_m3s`` per lead day, for QGIS."""

FORECAST_VERIFICATION = AssetKey(["discharge_model", "forecast_verification"])
"""The stored discharge forecasts of a region (every ``part.parquet`` of :data:`DISCHARGE_FORECAST`,
their rows at the region's gauges of :data:`GAUGE_CATCHMENTS`) scored against the valid observed
discharge of :data:`shared.assets.landing_zone.HYDRO_POLISHED`, per gauge and lead day (Parquet, per
region): ``gauge``, ``lead_day``, ``forecasts`` (scored forecast days: those with an observation),
``first_date``, ``last_date``, ``nse``, ``bias_pct`` of the forecast issued to users (``corrected_m3s``),
``model_nse``, ``model_bias_pct`` of the uncorrected model, ``persistence_nse``, ``persistence_bias_pct``
of the last observation carried forward; NaN where a score is undefined (fewer than two days, constant
observations). Median NSE per lead day of each in the metadata. Re-scored when forecasts or
observations arrive."""
