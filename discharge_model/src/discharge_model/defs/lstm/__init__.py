"""The LSTM discharge model: training with NeuralHydrology, stored runs, evaluation against a climatology
baseline, and promotion.

How a model comes to be, and to be used:

1. **Trained.** ``discharge_model/lstm`` trains on the region's published training data with the versioned
   settings (``lstm.yml``; overrides in the run config are part of the config hash). A dataset that cannot
   train the configured model is refused before the first epoch, naming basin and column
   (:mod:`.preflight`). A finished run is stored as a new ``run-{run_id}.zip`` that is never rewritten, and
   then ``current.json`` points at it: the newest trained model, a *candidate*. A failed run moves nothing.
2. **Evaluated.** ``discharge_model/evaluation`` reloads the archive ``current.json`` names and scores it on
   the test period beside the day-of-year climatology (per-basin table, predictions, hydrographs).
3. **Promoted.** When every evaluation check passes (the LSTM's median test NSE is above the
   climatology's, every basin could be scored), the evaluation writes ``promoted.json`` in its own folder:
   the evaluated model's pointer record and the scores it was promoted on (:mod:`.promotion`). The promoted
   model is therefore the one of the *latest passing evaluation*; whatever predicts with the model reads
   ``promoted.json``, never ``current.json``. An evaluation whose check fails is still stored (it is the
   report that says why), and ``promoted.json`` stays on the last model that passed; its archive is still
   there, as every archive is.

All of this runs by itself: training data, model and evaluation carry
:data:`discharge_model.automation.WHEN_UPSTREAM_PASSED`, so a change of the landing zone's features or
polished discharge whose blocking checks passed retrains and re-evaluates the model (and a failed
upstream check holds it back), through the location's automation sensor (``discharge_model_automation``,
running by default in production).
"""
