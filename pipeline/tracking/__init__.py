"""The only part of the library that talks to MLflow: runs, models, the registry."""

from pipeline.tracking.registry import PromotionResult, load_bundle_from_registry, register_and_promote
from pipeline.tracking.runs import configure_tracking, connect_tracking, log_bundle_model, start_run

__all__ = [
    "PromotionResult",
    "configure_tracking",
    "connect_tracking",
    "load_bundle_from_registry",
    "log_bundle_model",
    "register_and_promote",
    "start_run",
]
