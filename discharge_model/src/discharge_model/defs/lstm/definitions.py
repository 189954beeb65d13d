"""The LSTM's definitions: the trained model per region and its evaluation against a climatology."""

import dagster as dg

from discharge_model.defs.lstm.assets import lstm_model, model_evaluation


def lstm_definitions() -> dg.Definitions:
    """The domain's one entry point, so the location root needs to know no module but this one."""
    return dg.Definitions(assets=[lstm_model, model_evaluation])
