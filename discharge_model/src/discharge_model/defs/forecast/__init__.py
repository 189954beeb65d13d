"""Discharge forecasts: per weather-model run, the promoted LSTM driven by the observed forcings up to the
run's day and the run's forecast forcings after it, updated at the gauges with the last observed
discharge; and their verification against the observations that arrive later.

- :mod:`.model_inputs` builds each progressive catchment's input sequence (observed, then forecast) as
  NeuralHydrology's generic dataset, with the training data's own writer;
- :mod:`.simulation` runs the promoted model on it through the evaluation's code path;
- :mod:`.network` derives each reach's local inflow from the progressive discharges;
- :mod:`.correction` updates the model at the gauges with the last observation (the issued forecast);
- :mod:`.layer` writes the reaches with their forecast per lead day as FlatGeobuf;
- :mod:`.verification` scores every stored forecast of a region per gauge and lead day.
"""
