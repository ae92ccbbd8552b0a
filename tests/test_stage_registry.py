"""The one stage registry (pipeline/stages/registry.py): dvc.yaml, the flows, the warm preload list
and `graphfuse dvc-deps` all agree with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.dvc_deps import stage_module
from pipeline.ops.warm_stages import PRELOAD
from pipeline.stages import STAGES
from pipeline.stages.registry import REGISTRY, stage_modules

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]


def _names(entries: list) -> list[str]:
    return [next(iter(e)) if isinstance(e, dict) else str(e) for e in entries or []]


def test_dvc_yaml_runs_the_registrys_stages_with_its_params_and_outputs() -> None:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]

    assert list(stages) == list(STAGES)
    for spec in REGISTRY:
        stage = stages[spec.name]
        assert stage["cmd"] == f"graphfuse stage {spec.name}"
        assert tuple(_names(stage.get("params"))) == spec.params, spec.name
        outputs = _names(stage.get("outs")) + _names(stage.get("metrics")) + _names(stage.get("plots"))
        assert sorted(outputs) == sorted(spec.outputs), spec.name


def test_every_stage_function_exists_and_flows_and_preload_derive_from_the_registry() -> None:
    from flows.stage_flows import STAGE_FLOWS, STAGE_FUNCTIONS

    for spec in REGISTRY:
        assert callable(spec.function()), spec.target
        assert stage_module(REPO, spec.name) == spec.module
    assert list(STAGE_FLOWS) == list(STAGES) == list(STAGE_FUNCTIONS)
    assert {flow.name for flow in STAGE_FLOWS.values()} == set(STAGES)
    assert set(stage_modules()) <= set(PRELOAD)
