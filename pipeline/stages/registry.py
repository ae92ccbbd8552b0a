"""The one list of pipeline stages: name -> function, its params sections, its outputs.

Everything else that names stages derives from :data:`REGISTRY`: ``pipeline.stages.STAGES``, the
Prefect flows (``flows.stage_flows``), the warm server's preload list, ``graphfuse dvc-deps`` (each
stage's module) and the test fixtures; a test checks dvc.yaml's params and outputs against it.
The order is dvc.yaml's. Importing this module imports no stage: functions load on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config import Params
    from pipeline.paths import Paths


@dataclass(frozen=True)
class StageSpec:
    """One stage: what runs it, which params sections it reads, which files it writes."""

    name: str
    target: str  # "module:function"
    params: tuple[str, ...]  # dvc.yaml's params: sections or section.key
    outputs: tuple[str, ...]  # dvc.yaml's outs, metrics and plots
    sharded: bool = False  # its encoding may fan out over Dask (preprocess.runner: dask)

    @property
    def module(self) -> str:
        return self.target.split(":")[0]

    def function(self) -> Callable[..., dict]:
        module, attr = self.target.split(":")
        return getattr(importlib.import_module(module), attr)


_PLOTS = ("confusion_test.csv", "embeddings.csv", "confusion_test.png", "training_curves.png")
REGISTRY: tuple[StageSpec, ...] = (
    StageSpec("validate", "pipeline.stages.validate:run", ("dataset", "validate"), ("data/processed/dataset",)),
    StageSpec(
        "preprocess_text",
        "pipeline.stages.preprocess:run_text",
        ("preprocess_text", "preprocess.strict", "preprocess.float16"),
        ("data/processed/features/text",),
        sharded=True,
    ),
    StageSpec(
        "preprocess_image",
        "pipeline.stages.preprocess:run_image",
        ("preprocess_image", "preprocess.strict", "preprocess.float16"),
        ("data/processed/features/image",),
        sharded=True,
    ),
    StageSpec(
        "preprocess_tabular",
        "pipeline.stages.preprocess:run_tabular",
        ("preprocess_tabular", "preprocess.float16"),
        ("data/processed/features/tabular", "data/processed/features/tabular_state.json"),
    ),
    StageSpec(
        "preprocess_embedding",
        "pipeline.stages.preprocess_embedding:run",
        ("preprocess.float16",),
        ("data/processed/features/embedding",),
    ),
    StageSpec(
        "build_graph",
        "pipeline.stages.build_graph:run",
        ("build_graph",),
        ("data/processed/graph", "metrics/graph.json"),
    ),
    StageSpec(
        "train",
        "pipeline.stages.train:run",
        ("train", "tracking.experiment"),
        ("models", "metrics/search.json", "metrics/training_history.csv"),
    ),
    StageSpec(
        "evaluate",
        "pipeline.stages.evaluate:run",
        ("train", "evaluate", "tracking", "registry"),
        (
            "metrics/metrics.json",
            "metrics/metrics_detail.json",
            "metrics/ablation.json",
            "metrics/registry.json",
            "reports/evaluation.html",
            "plots/reliability_test.csv",
            *(f"plots/{name}" for name in _PLOTS),
            "plots/reliability_test.png",
            "plots/embeddings.png",
        ),
    ),
)

STAGES: tuple[str, ...] = tuple(spec.name for spec in REGISTRY)
_BY_NAME = {spec.name: spec for spec in REGISTRY}


def stage_spec(name: str) -> StageSpec:
    """The stage called ``name``; KeyError names the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}") from None


def stage_modules() -> tuple[str, ...]:
    """Each stage's module once, in order (what a warm process preloads)."""
    return tuple(dict.fromkeys(spec.module for spec in REGISTRY))


def run_stage(name: str, params: Params, paths: Paths) -> dict:
    """Run one stage in this process as a plain function of (params, paths): no Prefect, no DVC."""
    return stage_spec(name).function()(params, paths)
