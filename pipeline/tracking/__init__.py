"""The only part of the library that talks to MLflow: runs, models, the registry.

The names below load their module (and MLflow with it) on first use, so a command that only
reads a local model, or finds a registered one (or the list of versions) in the project's own
SQLite registry (:mod:`pipeline.tracking.local_registry`), never pays for MLflow's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from pipeline.tracking.lineage import Lineage, training_lineage
    from pipeline.tracking.local_registry import local_versions
    from pipeline.tracking.model_files import (
        load_bundle_from_registry,
        load_package_from_registry,
        load_registered_package,
    )
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

#: Full module names, so ``graphfuse dvc-deps`` counts them as imports of this package (they are, on use).
_HOMES = {
    "pipeline.tracking.lineage": ("Lineage", "training_lineage"),
    "pipeline.tracking.local_registry": ("local_versions",),
    "pipeline.tracking.model_files": (
        "load_bundle_from_registry",
        "load_package_from_registry",
        "load_registered_package",
    ),
    "pipeline.tracking.registry": ("PromotionResult", "list_versions", "promote", "register_and_promote", "rollback"),
    "pipeline.tracking.runs": (
        "TrainingRun",
        "configure_tracking",
        "connect_tracking",
        "log_bundle_model",
        "log_evaluation",
        "start_run",
        "training_run",
    ),
}

__all__ = [
    "Lineage",
    "PromotionResult",
    "TrainingRun",
    "configure_tracking",
    "connect_tracking",
    "list_versions",
    "load_bundle_from_registry",
    "load_package_from_registry",
    "load_registered_package",
    "local_versions",
    "log_bundle_model",
    "log_evaluation",
    "promote",
    "register_and_promote",
    "rollback",
    "start_run",
    "training_lineage",
    "training_run",
]


__getattr__ = lazy_getattr(__name__, _HOMES, globals())
