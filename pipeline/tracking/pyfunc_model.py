"""A pyfunc face for a GraphFuse model bundle, so the MLflow registry can serve it.

A graph model predicts a whole graph at once, so the input is a frame with one column,
``dataset_dir``: each row names a format-v1 dataset folder; the output has a row per node.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from pipeline.bundle import ModelBundle, load_bundle
from pipeline.predict import predict_dataset

#: A served model reads dataset folders only below this root (default: the server's working
#: directory), so a request cannot make it read arbitrary paths on the host.
DATA_ROOT_ENV = "GRAPHFUSE_SERVE_DATA_ROOT"


def _inside_data_root(dataset_dir: str) -> Path:
    root = Path(os.environ.get(DATA_ROOT_ENV) or Path.cwd()).resolve()
    path = (root / dataset_dir).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"dataset_dir {dataset_dir!r} is outside the data root {root} (set {DATA_ROOT_ENV})")
    return path


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
            predictions, _notes = predict_dataset(self.bundle, _inside_data_root(str(dataset_dir)))
            frames.append(predictions.assign(dataset_dir=str(dataset_dir)))
        return pd.concat(frames, ignore_index=True)
