"""The packaged MiniLM through transformers alone gives sentence-transformers' own embeddings.

``MeanPooledMiniLM`` replaces ``SentenceTransformer`` for the packaged model (to spare predict the
import), so both load the same folder here and encode the same texts: short and long ones (cut at
256 tokens), several length-sorted batches, accents and an empty string. Network blocked while
they load.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.encoders import EncoderUnavailable, make_text_encoder
from pipeline.encoders.minilm import MeanPooledMiniLM
from pipeline.encoders.text import packaged_minilm_dir
from tests.test_encoders import block_network

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[1]


def _texts() -> list[str]:
    """22 texts: at batch size 64 one batch, every text padded beside the two cut at 256 tokens; at 7
    four length-sorted batches, the last of one text. (76 texts cost 3x as much: at 64 the first batch
    padded 64 texts to 256 tokens, for each model.)"""
    import pandas as pd

    nodes = pd.read_csv(REPO / "data" / "raw" / "countries" / "nodes.csv", dtype=str, keep_default_na=False)
    real = nodes["text"].tolist()[:12]  # Åland and Argentina's among them: non-ASCII
    long = ["word " * 300, "a much longer sentence about rivers and mountains. " * 40]
    odd = ["", "Ünïcödé: São Tomé and Príncipe, Côte d'Ivoire", "x", "  padded with spaces  "]
    return real + long + odd + [f"country number {i} lies on the coast" for i in range(4)]


@pytest.fixture(scope="module")
def both() -> tuple[object, MeanPooledMiniLM]:
    from sentence_transformers import SentenceTransformer

    with pytest.MonkeyPatch.context() as mp:
        block_network(mp)
        path = packaged_minilm_dir()
        return SentenceTransformer(str(path), device="cpu", local_files_only=True), MeanPooledMiniLM(path)


@pytest.mark.parametrize("batch_size", [64, 7])
def test_embeddings_match_sentence_transformers(both, batch_size: int) -> None:
    reference, ours = both
    texts = _texts()
    kw = {"batch_size": batch_size, "convert_to_numpy": True, "normalize_embeddings": True}
    expected = reference.encode(texts, show_progress_bar=False, **kw)  # type: ignore[attr-defined]
    got = ours.encode(texts, **kw)
    assert got.shape == expected.shape == (len(texts), 384) and got.dtype == np.float32
    assert float(np.abs(got - expected).max()) <= 1e-6


def test_same_tokenizer_limits_and_dimension(both) -> None:
    reference, ours = both
    assert ours.max_seq_length == reference.max_seq_length == 256  # type: ignore[attr-defined]
    assert ours.get_sentence_embedding_dimension() == reference.get_embedding_dimension()  # type: ignore[attr-defined]
    text = "word " * 400
    assert ours.tokenizer(text, truncation=True)["input_ids"] == reference.tokenizer(text, truncation=True)["input_ids"]  # type: ignore[attr-defined]


def test_text_encoder_runs_without_sentence_transformers_imported() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom pipeline.encoders import make_text_encoder\n"
        "x = make_text_encoder('all-MiniLM-L6-v2', progress=False).encode(['hello'])\n"
        "assert x.shape == (1, 384)\nassert 'sentence_transformers' not in sys.modules, 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_a_folder_with_other_pooling_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    source = packaged_minilm_dir()
    folder.mkdir()
    for name in ("modules.json", "sentence_bert_config.json"):
        shutil.copy(source / name, folder / name)
    (folder / "1_Pooling").mkdir()
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    pooling |= {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with pytest.raises(EncoderUnavailable, match="pooling"):
        MeanPooledMiniLM(folder)


def test_the_packaged_alias_uses_it() -> None:
    encoder = make_text_encoder("all-MiniLM-L6-v2", progress=False)
    assert isinstance(encoder._model, MeanPooledMiniLM)  # type: ignore[attr-defined]
    assert torch.equal(encoder.encode(["hello"]), encoder.encode(["hello"]))
