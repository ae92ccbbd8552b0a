"""params.yaml is typed: typos and impossible values fail at load time, naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Params, load_params
from pipeline.errors import GraphFuseError

pytestmark = pytest.mark.unit

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


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("train:\n  lr: true\n", "train.lr = true: expected a number"),
        ("train:\n  max_epochs: 2.5\n", "train.max_epochs = 2.5: expected a whole number"),
        ("train:\n  residual: 1\n", "train.residual = 1: expected true or false"),
        ("train:\n  smoothing: yes\n", "train.smoothing = true: expected one of 'auto' or 'off' or a number"),
        ("train:\n  lr: .inf\n", "train.lr = .inf: expected a finite number"),
        ("train:\n  backbone: gat\n  heads: 3\n", "train: heads = 3 must divide hidden_dim = 128 for the gat"),
        ("build_graph:\n  knn:\n    kk: 3\n", "build_graph.knn.kk: unknown key (did you mean 'k'?)"),
        ("train: [unclosed\n", "not valid YAML at line 2, column 1: expected ',' or ']'"),
        ("", "the file is empty"),
        ("# all defaults?\n", "the file is empty"),
    ],
)
def test_every_params_error_is_one_line_with_the_key_value_and_what_is_allowed(
    tmp_path: Path, text: str, line: str
) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(GraphFuseError) as error:
        load_params(path)
    lines = str(error.value).splitlines()
    assert any(line in one for one in lines), lines
    assert all(one.startswith(f"{path}: ") for one in lines)  # each error alone names the file
    assert "pydantic" not in str(error.value) and "For further information" not in str(error.value)


def test_an_exponent_without_a_dot_is_a_number_and_braces_are_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  lr: 1e-3\n  weight_decay: 5E-4\n")  # YAML 1.1 would read these as text
    assert (load_params(path).train.lr, load_params(path).train.weight_decay) == (0.001, 0.0005)
    path.write_text("{}\n")
    assert load_params(path) == Params()


def test_every_key_of_the_repository_params_is_typed_strictly(tmp_path: Path) -> None:
    """Each key of the real params.yaml, given a value of the wrong kind, is refused by name."""
    import copy

    import yaml

    raw = yaml.safe_load(REPO_PARAMS.read_text())
    checked = 0
    for section, values in raw.items():
        for key, value in _leaves(values):
            if isinstance(value, bool):
                wrong: object = 1
            elif isinstance(value, int | float):
                wrong = True
            else:
                continue
            broken = copy.deepcopy(raw)
            _set(broken[section], key, wrong)
            (tmp_path / "params.yaml").write_text(yaml.safe_dump({section: broken[section]}))
            with pytest.raises(GraphFuseError, match=f"{section}.{'.'.join(key)} = "):
                load_params(tmp_path / "params.yaml")
            checked += 1
    assert checked > 40


def _leaves(values: dict, prefix: tuple = ()):
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _set(values: dict, key: tuple, value: object) -> None:
    for part in key[:-1]:
        values = values[part]
    values[key[-1]] = value


def test_search_off_survives_dvc_rewriting_it_bare(tmp_path: Path) -> None:
    """`dvc exp run -S` rewrites params.yaml and drops the quotes of "off"; YAML then reads false."""
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  search: off\n", encoding="utf-8")
    assert load_params(path).train.search == "off"
    path.write_text("train:\n  search: true\n", encoding="utf-8")
    with pytest.raises(GraphFuseError, match="train.search"):
        load_params(path)
