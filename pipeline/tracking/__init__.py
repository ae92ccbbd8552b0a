"""The only part of the library that talks to MLflow: runs, models, the registry."""

from pipeline.tracking.lineage import Lineage, training_lineage
from pipeline.tracking.model_files import load_bundle_from_registry, load_package_from_registry
from pipeline.tracking.registry import (
    PromotionResult,
    list_versions,
    promote,
    register_and_promote,
    rollback,
)
from pipeline.tracking.runs import (
    TrainingRun,
    configure_tracking,
    connect_tracking,
    log_bundle_model,
    log_evaluation,
    start_run,
    training_run,
)

__all__ = [
    "Lineage",
    "PromotionResult",
    "TrainingRun",
    "configure_tracking",
    "connect_tracking",
    "list_versions",
    "load_bundle_from_registry",
    "load_package_from_registry",
    "log_bundle_model",
    "log_evaluation",
    "promote",
    "register_and_promote",
    "rollback",
    "start_run",
    "training_lineage",
    "training_run",
]
