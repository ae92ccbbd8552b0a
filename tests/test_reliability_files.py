"""Outputs: normal permissions, folders replaced whole, disk full, predict's --out checked before work."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.atomic import atomic_dir, write_text

pytestmark = pytest.mark.unit


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


# -- disk full -------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A real 512 KiB tmpfs (root only); skipped with the reason where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.decode().strip() or 'not root'}); see the rlimit test")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_disk_full_during_a_stage_is_one_clear_error_and_the_earlier_output_survives(
    tiny_disk: Path, small_countries: Path
) -> None:
    import yaml

    from pipeline.config import load_params
    from pipeline.dataset import read_processed
    from pipeline.errors import GraphFuseError
    from pipeline.paths import Paths
    from pipeline.stages import validate

    (tiny_disk / "params.yaml").write_text(yaml.safe_dump({"dataset": {"dir": str(small_countries)}}))
    params, paths = load_params(tiny_disk / "params.yaml"), Paths(tiny_disk)
    validate.run(params, paths)
    before = {p.name: p.read_bytes() for p in paths.dataset.iterdir()}
    free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
    (tiny_disk / "filler").write_bytes(b"\0" * (free - 4096))  # the disk is now (almost) full
    with pytest.raises(GraphFuseError, match="No space left on device"):
        validate.run(params, paths)
    assert {p.name: p.read_bytes() for p in paths.dataset.iterdir()} == before
    assert read_processed(paths.dataset, project_root=tiny_disk).ids == read_processed(paths.dataset).ids
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["data", "filler", "params.yaml"]
    assert sorted(p.name for p in paths.processed.iterdir()) == ["dataset"]  # no temporary left


_FSIZE = """
import resource, signal, sys
from pipeline.atomic import write_text
from pipeline.errors import GraphFuseError
write_text(sys.argv[1], "earlier output\\n")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit a write fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
try:
    write_text(sys.argv[1], "x" * 1_000_000)
except GraphFuseError as exc:
    print("GraphFuseError:", exc)
"""


def test_a_file_size_limit_while_writing_is_one_clear_error(tmp_path: Path) -> None:
    """The same path without root: RLIMIT_FSIZE makes the write fail as a full disk does."""
    target = tmp_path / "metrics.json"
    out = subprocess.run([sys.executable, "-c", _FSIZE, str(target)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("GraphFuseError:") and "free some space and rerun" in out.stdout
    assert target.read_text() == "earlier output\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
