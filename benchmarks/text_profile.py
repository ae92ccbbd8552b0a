"""Where text encoding spends its time, and ours against sentence-transformers at equal threads.

Same texts as ``encode_throughput.py`` (countries rows made unique), same loaded model. Prints:
1. the breakdown of one ``SentenceTransformer.encode(batch_size=64)``: tokenising and padding the
   length-sorted batches, the model's forward (transformer, mean pooling, normalisation), and the
   rest (sorting, copies to NumPy); each on its own, after a warm-up;
2. rates, medians of ``--repeats`` interleaved runs after a warm-up: sentence-transformers'
   ``encode(64)`` with torch's default threads (what a user gets), the same call at our thread
   count, and ours as the preprocess stage runs it (``embed``: content hashes, shards,
   truncation count, ``encode``), with ratios at equal threads and as configured.

    .venv/bin/python benchmarks/text_profile.py [--texts 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("CI", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from encode_throughput import text_rows  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

from pipeline.cache import content_digest  # noqa: E402
from pipeline.encoders.speed import sensible_threads, torch_threads  # noqa: E402
from pipeline.encoders.text import SentenceTextEncoder, packaged_minilm_dir  # noqa: E402
from pipeline.features.runner import embed  # noqa: E402


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def breakdown(st: object, texts: list[str], batch_size: int = 64) -> dict[str, float]:
    """Seconds spent tokenising, in the forward, and in all of ``encode``, as encode batches them."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # sentence-transformers' own order
    batches = [[texts[i] for i in order[s : s + batch_size]] for s in range(0, len(texts), batch_size)]
    tokenised: list[dict] = []
    tokenise = seconds(lambda: tokenised.extend(st.preprocess(b) for b in batches))
    with torch.inference_mode():
        forward = seconds(lambda: [st.forward(features) for features in tokenised])
        total = seconds(lambda: st.encode(texts, batch_size=batch_size, normalize_embeddings=True))
    return {"tokenise": tokenise, "forward": forward, "encode": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    texts = text_rows(args.texts)
    default_threads, ours_threads = torch.get_num_threads(), sensible_threads()
    ours = SentenceTextEncoder(batch_size=64, progress=False)
    # sentence-transformers itself on the packaged model (ours runs it through transformers alone)
    st = SentenceTransformer(str(packaged_minilm_dir()), device="cpu", local_files_only=True)
    print(
        f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}, threads: torch default "
        f"{default_threads}, ours {ours_threads}; attention {st[0].auto_model.config._attn_implementation}"
    )

    with torch_threads(ours_threads):
        parts = breakdown(st, texts[:256], 64)
        parts = breakdown(st, texts, 64)  # the first call above was the warm-up
    rest = parts["encode"] - parts["tokenise"] - parts["forward"]
    print(
        f"breakdown of encode(64) on {len(texts)} texts at {ours_threads} thread(s): {parts['encode']:.2f} s = "
        + ", ".join(
            f"{k} {v:.2f} s ({100 * v / parts['encode']:.1f}%)"
            for k, v in (("tokenise+pad", parts["tokenise"]), ("forward", parts["forward"]), ("rest", rest))
        )
    )

    def theirs() -> object:
        with torch.inference_mode():
            return st.encode(texts, batch_size=64, show_progress_bar=False, normalize_embeddings=True)

    def stage_path() -> object:  # as preprocess_text runs it, without the cache
        return embed([(content_digest(t), t) for t in texts], ours, None, shard_size=1024)

    runs: dict[str, Callable[[], object]] = {f"st encode(64), {default_threads} thread(s)": theirs}
    if ours_threads != default_threads:
        runs[f"st encode(64), {ours_threads} thread(s)"] = lambda: _at(ours_threads, theirs)
    runs[f"ours (stage path), {ours_threads} thread(s)"] = stage_path
    embed([(content_digest(t), t) for t in texts[:128]], ours, None)  # warm-up of our path (st's: the breakdown)
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            rates[name].append(len(texts) / seconds(lambda f=fn: _at(default_threads, f)))
    medians = {name: statistics.median(r) for name, r in rates.items()}
    for name, r in rates.items():
        print(f"{name:42s} median {medians[name]:7.1f} texts/s  runs {[round(x, 1) for x in r]}")
    names = list(medians)
    print(
        f"ours / st at equal threads ({ours_threads}): {medians[names[-1]] / medians[names[-2]]:.2f}x; "
        f"ours / st with its default threads: {medians[names[-1]] / medians[names[0]]:.2f}x (target >= 0.9)"
    )


def _at(threads: int, fn: Callable[[], object]) -> object:
    with torch_threads(threads):
        return fn()


if __name__ == "__main__":
    main()
