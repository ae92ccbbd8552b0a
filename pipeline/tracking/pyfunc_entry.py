"""Models-from-code entry point: MLflow runs this file to rebuild the pyfunc (no pickle)."""

from mlflow.models import set_model

from pipeline.tracking.pyfunc_model import GraphFusePyfunc

set_model(GraphFusePyfunc())
