"""Outputs: normal permissions, folders replaced whole, predict's --out checked before work."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from pipeline.atomic import atomic_dir, write_text

BIN = Path(sys.executable).parent


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_and_folders_follow_the_umask_not_0600(tmp_path: Path, umask_027: None) -> None:
    write_text(tmp_path / "a.txt", "x")
    assert _mode(tmp_path / "a.txt") == 0o640
    with atomic_dir(tmp_path / "graph") as staged:
        (staged / "sub").mkdir()
        write_text(staged / "sub" / "b.json", "{}")
    assert _mode(tmp_path / "graph") == 0o750
    assert _mode(tmp_path / "graph" / "sub") == 0o750
    assert _mode(tmp_path / "graph" / "sub" / "b.json") == 0o640


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "models"
    with atomic_dir(target) as staged:
        (staged / "model.json").write_text("old")
        (staged / "model.safetensors").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as staged:
        (staged / "model.json").write_text("new")
        raise RuntimeError("killed half-way")
    assert {p.name: p.read_text() for p in target.iterdir()} == {"model.json": "old", "model.safetensors": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # no temporary left beside it


def test_temporaries_a_killed_writer_left_are_cleaned_at_the_next_write(tmp_path: Path) -> None:
    (tmp_path / ".graph.abcd1234.tmp").mkdir()  # what kill -9 mid-write leaves
    (tmp_path / ".graph.abcd1234.old").mkdir()
    (tmp_path / ".graph.keepthis").mkdir()  # not one of ours
    with atomic_dir(tmp_path / "graph") as staged:
        (staged / "x").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".graph.keepthis", "graph"]


def test_predict_refuses_an_existing_folder_as_out_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    args = ["predict", "--model", "models:/nope@champion", "--dataset", "nowhere", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "--out names an existing folder" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "mlflow.db").exists()  # it stopped before connecting to anything
    missing = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "no" / "such" / "preds.csv")])
    assert missing.exit_code == 1 and "does not exist" in missing.output
