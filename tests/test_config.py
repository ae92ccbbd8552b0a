"""params.yaml is typed: typos and impossible values fail at load time, naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Params, load_params
from pipeline.errors import GraphFuseError

REPO_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def test_the_repository_params_load_and_match_the_defaults() -> None:
    assert load_params(REPO_PARAMS) == Params()


def test_a_missing_file_is_an_error_not_the_defaults(tmp_path: Path) -> None:
    with pytest.raises(GraphFuseError, match="params file not found"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train:\n  learning_rate: 0.1\n", "learning_rate"),
        ("train:\n  lr: -1\n", "train.lr"),
        ("validate:\n  val_fraction: 0.6\n  test_fraction: 0.5\n", "below 1"),
        ("train: [unclosed\n", "not valid YAML"),
        ("evaluate:\n  champion_metric: loss\n", "evaluate.champion_metric"),
    ],
)
def test_bad_params_name_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(GraphFuseError) as error:
        load_params(path)
    assert str(path) in str(error.value) and expected in str(error.value)
