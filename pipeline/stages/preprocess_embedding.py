"""Stage preprocess_embedding: the dataset's own precomputed embeddings as feature folders.

``embedding_modalities`` in ``dataset.yaml`` names one ``.npy``/``.safetensors`` matrix per
modality (rows in node order). Each becomes ``features/embedding/emb_<name>/`` in the same
format as the encoded modalities (``x.npy``, ``mask.npy``, ``manifest.json``), so build_graph,
kNN, training, ablation and prediction treat it like any other modality. A dataset without any
still gets the folder (zero columns), so the DVC graph is the same for every dataset.
"""

from __future__ import annotations

import logging

import torch

from pipeline.config import Params
from pipeline.dataset import read_processed
from pipeline.dataset.embeddings import read_embedding
from pipeline.dataset.spec import SPEC_FILE
from pipeline.features import PRECOMPUTED, ModalityFeatures, ids_fingerprint, save_feature_group, save_features
from pipeline.paths import Paths

KIND = "embedding"

log = logging.getLogger("graphfuse.preprocess")


def run(params: Params, paths: Paths) -> dict:
    dataset = read_processed(paths.dataset, project_root=paths.root)
    ids = dataset.ids
    folder = paths.feature_file(KIND)
    if not dataset.spec.embedding_modalities:
        save_features(folder, ModalityFeatures.absent(KIND, ids), float16=params.preprocess.float16)
        return {"modalities": {}}
    group: dict[str, tuple[ModalityFeatures, dict]] = {}
    summary: dict[str, dict] = {}
    for name, entry in dataset.spec.embedding_modalities.items():
        matrix = read_embedding(
            dataset.root, dataset.root / SPEC_FILE, name, entry, ids, dataset.nodes_file_name, keep=True
        )
        info = {"encoder": PRECOMPUTED, "file": entry.file, "tensor": entry.tensor, "source_dtype": matrix.source_dtype}
        features = ModalityFeatures(
            matrix.modality, torch.from_numpy(matrix.x), torch.from_numpy(matrix.mask), ids_fingerprint(ids), info
        )
        counts = {"present": int(matrix.mask.sum()), "missing_all_nan_rows": matrix.missing}
        group[matrix.modality] = (features, {"report": counts})
        summary[matrix.modality] = {"dim": features.dim, "file": entry.file, **counts}
        line = (
            f"{matrix.modality}: {features.dim}-d from {entry.file} ({matrix.source_dtype}), "
            f"{counts['present']} nodes have it, {matrix.missing} all-NaN rows treated as missing"
        )
        print(line)
        log.info(line)
    save_feature_group(folder, group, float16=params.preprocess.float16)
    return {"modalities": summary}
