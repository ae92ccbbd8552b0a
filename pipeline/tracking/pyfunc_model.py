"""A pyfunc face for a GraphFuse model bundle, so the MLflow registry can serve it.

A graph model predicts a whole graph at once, so the input is a frame with one column,
``dataset_dir``: each row names a format-v1 dataset folder; the output has a row per node.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from pipeline.bundle import ModelBundle, load_bundle
from pipeline.predict import predict_dataset


class GraphFusePyfunc(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        self.bundle: ModelBundle = load_bundle(context.artifacts["bundle"])

    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        if "dataset_dir" not in model_input.columns:
            raise ValueError("input needs a 'dataset_dir' column naming format-v1 dataset folders")
        frames = []
        for dataset_dir in model_input["dataset_dir"]:
            predictions, _notes = predict_dataset(self.bundle, dataset_dir)
            frames.append(predictions.assign(dataset_dir=str(dataset_dir)))
        return pd.concat(frames, ignore_index=True)
