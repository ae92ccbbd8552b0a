"""Training that survives a kill, runs as two DDP processes, and scales by precomputed hops."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pipeline.evaluation.metrics import classification_metrics
from pipeline.models import build_model
from pipeline.training import TrainOptions, predict_logits, seed_everything, train_node_classifier
from pipeline.training.epoch_metrics import accuracy_macro_f1
from pipeline.training.loop import class_weights
from tests.tiny_graphs import one_thread, tiny_config, two_community_graph  # noqa: F401 (autouse fixture)
from tests.train_script import OPTIONS, train

REPO = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")


def _script(out: Path, *args: str) -> subprocess.Popen:
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "tests.train_script", str(out), *args], cwd=REPO, env=env)


@pytest.mark.integration  # a real process, killed and restarted
def test_a_killed_training_resumes_and_ends_with_the_uninterrupted_weights(tmp_path: Path) -> None:
    reference = train()
    checkpoint = tmp_path / "ckpt"
    killed = _script(tmp_path / "killed", "--checkpoint", str(checkpoint), "--sleep", "0.15")
    state = checkpoint / "checkpoint.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and killed.poll() is None:
        if state.is_file() and json.loads(state.read_text())["epoch"] >= 6:
            break
        time.sleep(0.05)
    assert killed.poll() is None, "the run ended before it could be killed"
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    saved_epoch = json.loads(state.read_text())["epoch"]
    assert 6 <= saved_epoch < OPTIONS.max_epochs and not (tmp_path / "killed").exists()

    # The resume reads only the files the killed process left: here, not in a second fresh process
    # (its imports were half this test's CPU); the same seeded run as the reference and the script.
    resumed = train(checkpoint)
    assert resumed.resumed_from == saved_epoch
    assert resumed.history == reference.history
    assert set(resumed.state_dict) == set(reference.state_dict)
    assert all(torch.equal(resumed.state_dict[k], reference.state_dict[k]) for k in resumed.state_dict)
    assert not checkpoint.exists()  # removed once training succeeded


@pytest.mark.unit
def test_a_checkpoint_of_another_run_is_not_resumed(tmp_path: Path) -> None:
    data, _ = two_community_graph(30)
    options = TrainOptions(max_epochs=4, patience=100, checkpoint_every=2)

    def fit(fingerprint: str, stop_at: int | None = None):
        seed_everything(0)
        model = build_model(tiny_config(data))

        def interrupt(epoch: int, row: dict) -> None:
            if epoch == stop_at:
                raise KeyboardInterrupt

        return train_node_classifier(
            model, data, num_classes=2, device=CPU, options=options, checkpoint_dir=tmp_path, fingerprint=fingerprint,
            on_epoch=interrupt,
        )  # fmt: skip

    with pytest.raises(KeyboardInterrupt):
        fit("one", stop_at=3)
    assert (tmp_path / "checkpoint.json").is_file()
    assert fit("two").resumed_from == 0
    assert not tmp_path.exists()


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None, reason="no torchrun")
def test_two_ddp_processes_learn_what_one_process_learns(tmp_path: Path) -> None:
    torchrun = str(Path(sys.executable).parent / "torchrun")
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    command = [torchrun, "--standalone", "--nnodes=1", "--nproc_per_node=2", "-m", "tests.train_script", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "result.json").read_text())
    assert summary["world"] == 2
    single = train()
    assert single.trained_nodes == 36 and summary["trained_nodes"] == 18  # each process half the nodes
    weights = load_file(str(tmp_path / "weights.safetensors"))
    # Each process scores its half of the training nodes over the global weight sum, so the
    # averaged gradient is the single-process one: same steps, up to float summation order.
    for key, value in single.state_dict.items():
        assert torch.allclose(weights[key], value, atol=1e-4), key
    two = [row["val_accuracy"] for row in summary["history"]]
    assert two == pytest.approx([row["val_accuracy"] for row in single.history], abs=0.05)


@pytest.mark.unit
def test_sign_mini_batches_learn_a_small_graph() -> None:
    data, y = two_community_graph(200, image_missing=0.5)
    seed_everything(0)
    model = build_model(tiny_config(data, backbone="sign", hops=2, dropout=0.1))
    options = TrainOptions(lr=0.01, max_epochs=40, patience=15, batch_size=32, batching="sign")
    result = train_node_classifier(model, data, num_classes=2, device=CPU, options=options)
    assert result.batching == "sign"
    model.load_state_dict(result.state_dict)
    pred = predict_logits(model, data, CPU).argmax(-1)  # full graph: propagation done in forward
    accuracy = float((pred[data.test_mask] == y[data.test_mask]).float().mean())
    assert accuracy >= 0.9

    seed_everything(0)
    no_graph = build_model(tiny_config(data, backbone="sign", hops=0, dropout=0.1))
    base = train_node_classifier(no_graph, data, num_classes=2, device=CPU, options=options)
    no_graph.load_state_dict(base.state_dict)
    base_pred = predict_logits(no_graph, data, CPU).argmax(-1)
    assert accuracy > float((base_pred[data.test_mask] == y[data.test_mask]).float().mean())  # the hops help


@pytest.mark.unit
def test_auto_batching_switches_to_precomputed_hops_above_the_threshold() -> None:
    from pipeline.training.batching import neighbor_sampling_available, resolve_batching

    assert resolve_batching("auto", 1_000, 200_000, "sage") == "full"
    assert resolve_batching("auto", 1_000_000, 200_000, "sage") == (
        "neighbor" if neighbor_sampling_available() else "sign"
    )
    assert resolve_batching("full", 10, 200_000, "sign") == "sign"
    if not neighbor_sampling_available():
        with pytest.raises(ValueError, match="pyg-lib or torch-sparse"):
            resolve_batching("neighbor", 10, 200_000, "sage")


@pytest.mark.unit
def test_epoch_metrics_match_the_evaluation_metrics() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        n, c = int(rng.integers(1, 40)), int(rng.integers(2, 6))
        y_true, y_pred = rng.integers(0, c, n), rng.integers(0, c, n)
        expected = classification_metrics(y_true, y_pred, c)
        accuracy, macro_f1 = accuracy_macro_f1(torch.from_numpy(y_true), torch.from_numpy(y_pred), c)
        assert accuracy == pytest.approx(expected["accuracy"]) and macro_f1 == pytest.approx(expected["macro_f1"])


@pytest.mark.unit
def test_balanced_class_weights_follow_the_training_labels() -> None:
    y = torch.tensor([0, 0, 0, 1, 2, 2])
    weights = class_weights(y, torch.tensor([0, 1, 2, 3]), 3, "balanced")
    assert weights.tolist() == pytest.approx([4 / (2 * 3), 4 / (2 * 1), 0.0])
    assert class_weights(y, torch.arange(6), 3, "none").tolist() == [1.0, 1.0, 1.0]
