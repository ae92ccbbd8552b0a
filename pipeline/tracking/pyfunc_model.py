"""A pyfunc face for a GraphFuse model: new nodes in, their class and probabilities out.

A link-prediction model instead takes ``source`` and ``target`` node ids (target empty: the top
``k`` candidate links of the source, ``params={"k": ...}``) and answers probability, logit, rank.

The input is a node table in the training dataset's columns (only the id is required) with an
optional ``neighbors`` column: the ids, new or of the training graph, that a node is linked to,
separated by ``;``. Image cells are paths under the images root the *caller* configures (model
config ``images_root`` or ``$GRAPHFUSE_IMAGES_ROOT``), or raw bytes in ``<image column>_bytes``;
a path that leaves the root is refused. The model never reads any other path a request names.

The model is logged without an input schema on purpose: MLflow's schema enforcement silently drops
a column the schema lacks (a misspelt ``Text`` or ``latitud``) and the answer would come from no
features; :func:`pipeline.inference.inductive.predict_new_nodes` refuses it instead, with the CLI's message.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel, PythonModelContext

from pipeline.errors import GraphFuseError
from pipeline.inference.bundle import ModelBundle, load_bundle
from pipeline.inference.inductive import EncoderCache, predict_new_nodes
from pipeline.inference.known_graph import KnownGraph, load_known_graph
from pipeline.inference.links import LinkScorer

DEFAULT_K = 10  # top-k candidate links per source when a request row has no target

IMAGES_ROOT_ENV = "GRAPHFUSE_IMAGES_ROOT"


class GraphFusePyfunc(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        self.bundle: ModelBundle = load_bundle(context.artifacts["bundle"])
        self.known: KnownGraph = load_known_graph(context.artifacts["known_graph"])
        missing = set(self.bundle.config.modality_dims) - set(self.known.features)
        if missing:
            raise GraphFuseError(f"the model package's training graph lacks the modalities {sorted(missing)}")
        self.links = LinkScorer(self.bundle, self.known) if self.bundle.config.decoder else None
        config = context.model_config or {}
        self.images_root = config.get("images_root") or os.environ.get(IMAGES_ROOT_ENV) or None
        self.encoders = EncoderCache(device="cpu", progress=False)

    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        try:
            if not isinstance(model_input, pd.DataFrame):  # "inputs"/"instances" JSON, a dict, a list
                model_input = _as_frame(model_input)
            if self.links is not None:  # link prediction: pairs in, scores (or top-k targets) out
                return self.links.predict(model_input, k=int((params or {}).get("k", DEFAULT_K)))
            predictions, _notes = predict_new_nodes(
                self.bundle, self.known, model_input, images_root=self.images_root, encoders=self.encoders
            )
        except GraphFuseError as exc:  # the caller's input: a 400 with the message, not a stack trace
            raise MlflowException.invalid_parameter_value(str(exc)) from exc
        return predictions


def _as_frame(model_input: Any) -> pd.DataFrame:
    try:
        return pd.DataFrame(model_input)
    except (ValueError, TypeError) as exc:
        kind = type(model_input).__name__
        raise GraphFuseError(f"request: expected a table of nodes (columns and rows), got {kind}") from exc
