"""The bundle as an MLflow pyfunc model, so ``models:/reactivation@champion`` loads anywhere.

Why a custom pyfunc rather than ``mlflow.lightgbm``: the registered model must be the whole
bundle (calibrator and channel model included), and MLflow's inferred signature would
record category columns as strings and then reject them (see the stack notes). The input
is typed as a plain DataFrame, for which MLflow infers no column schema. This module
imports MLflow, so it is imported only when logging or loading through MLflow.
"""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

from training.bundle import ModelBundle


class BundleModel(mlflow.pyfunc.PythonModel):
    """Feature frame in, ``return_probability`` and ``p_<channel>`` out."""

    def load_context(self, context) -> None:  # noqa: ANN001 - mlflow PythonModelContext
        """Load the bundle folder logged as the ``bundle`` artifact."""
        self.bundle = ModelBundle.load(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ANN001
        """Scores of each row of a feature frame (``features.build`` plus ``season_index``)."""
        del context, params
        frame = pd.DataFrame(model_input)
        out = pd.DataFrame({"return_probability": self.bundle.predict_return(frame)},
                           index=frame.index)
        channels = self.bundle.predict_channels(frame)
        return out if channels is None else out.join(channels)
