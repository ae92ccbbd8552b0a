"""The datasets of the accuracy table, their features computed once and cached on disk.

Each dataset gets a project-like folder under ``--work`` (``data/processed/...``) filled by the
real validate and preprocess stages, so the table measures what ``dvc repro`` would feed the
models; later runs reuse the folder instead of running the encoders again.
"""

from __future__ import annotations

from pathlib import Path

from lockbox import LOCKBOX

from pipeline.config import Params
from pipeline.paths import Paths
from pipeline.stages import preprocess, validate
from pipeline.synth import SynthConfig, write_synthetic_dataset

REPO = Path(__file__).resolve().parents[1]

#: Synthetic sets mimicking the held-out shapes: a text-only citation-like graph, and a
#: ~1,000-node text+image+table graph with 18 classes, sparse edges and many isolated nodes.
SYNTHETIC = {
    "synth-citation": SynthConfig(
        name="synth-citation",
        nodes=3000,
        classes=6,
        modalities=("text",),
        text_signal=0.55,
        homophily=0.75,
        avg_degree=3.5,
        isolated=0.02,
        imbalance=0.5,
        seed=11,
    ),
    "synth-mm18": SynthConfig(
        name="synth-mm18",
        nodes=1000,
        classes=18,
        text_signal=0.45,
        image_signal=0.35,
        tabular_signal=0.3,
        text_missing=0.05,
        image_missing=0.1,
        tabular_missing=0.1,
        homophily=0.7,
        avg_degree=2.5,
        isolated=0.6,
        imbalance=0.5,
        seed=12,
    ),
}
#: Image features at 112 px instead of the pipeline's 224: a quarter of the encoder time on this
#: shared 2-core machine. Every model in the table sees the same features, so the comparison holds.
IMAGE_SIZE = 112
REAL = {"countries": REPO / "data" / "raw" / "countries", "emoji": REPO / "data" / "raw" / "emoji"}
#: What the benchmarks run by default; the lockbox (``lockbox.LOCKBOX``) only with ``--lockbox``.
DATASETS = (*REAL, *SYNTHETIC)


def prepared(name: str, work: Path, split_seed: int | None = None) -> tuple[Params, Paths]:
    """Params and paths of ``name``'s folder under ``work``, running validate and preprocess once
    (``split_seed``: the stratified split's seed, ``validate.seed``, instead of params.yaml's 42)."""
    root = work / name
    if name in SYNTHETIC:
        raw = root / "raw"
        if not raw.exists():
            write_synthetic_dataset(SYNTHETIC[name], raw)
    else:
        raw = REAL[name] if name in REAL else LOCKBOX[name]
    settings: dict = {"dataset": {"dir": str(raw)}, "preprocess_image": {"image_size": IMAGE_SIZE}}
    if split_seed is not None:
        settings["validate"] = {"seed": split_seed}
    params = Params.model_validate(settings)
    paths = Paths(root)
    steps = {
        paths.dataset / "dataset.json": validate.run,
        paths.feature_file("text") / "manifest.json": preprocess.run_text,
        paths.feature_file("image") / "manifest.json": preprocess.run_image,
        paths.features / preprocess.TABULAR_STATE_FILE: preprocess.run_tabular,
    }
    for output, step in steps.items():  # each step once: a rerun resumes where the last one stopped
        if not output.is_file():
            step(params, paths)
    return params, paths


if __name__ == "__main__":
    import sys

    for dataset in sys.argv[2:] or DATASETS:
        prepared(dataset, Path(sys.argv[1]))
        print(f"{dataset}: features ready")
