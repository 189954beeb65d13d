"""Training data: hydro gauges matched to progressive catchments, and the dataset NeuralHydrology reads."""
